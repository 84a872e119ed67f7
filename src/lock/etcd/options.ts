/**
 * The options of {@link EtcdLeaseStore} and their check. Every option is
 * validated once, at construction: the first bad one throws
 * `InvalidOptionError` naming it, before the store sends anything.
 */
import type { Etcd3 } from 'etcd3';
import { InvalidOptionError } from '../../errors.js';
import { describe, integer, ownOptions, text } from '../../internal/validate.js';

/** The parts of an `Etcd3` client (or one of its namespaces) the store uses. */
export type EtcdClientLike = Pick<Etcd3, 'kv' | 'leaseClient' | 'watchClient'> &
  Partial<Pick<Etcd3, 'cluster'>>;

export interface EtcdLeaseStoreOptions {
  /**
   * An `etcd3` client (`new Etcd3({ hosts: [...] })`) with every member's
   * endpoint, or one of its namespaces (`client.namespace('app/')`: its
   * prefix goes in front of `prefix`). Never closed by the store.
   */
  client: EtcdClientLike;
  /** Prefix of every key the store writes; each fleet shares one. @default 'tenure/' */
  prefix?: string;
  /** gRPC deadline of each request. Keep it at or below the `requestTimeoutMs` of the locks and electors. @default 5000 */
  requestTimeoutMs?: number;
  /** How often the watch stream is checked for liveness (a progress request). @default 5000 */
  watchHeartbeatMs?: number;
}

/** The options, checked and with their defaults applied. */
export interface EtcdStoreSettings {
  readonly client: EtcdClientLike;
  /** The prefix of every key: the client namespace's prefix (if any), then `prefix`. */
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly heartbeatMs: number;
}

const OPTIONS = ['client', 'prefix', 'requestTimeoutMs', 'watchHeartbeatMs'] as const;

/** Checks the options (throws `InvalidOptionError` naming the first bad one) and applies the defaults. */
export function etcdStoreSettings(options: EtcdLeaseStoreOptions): EtcdStoreSettings {
  const o = ownOptions('EtcdLeaseStore options', options, OPTIONS);
  const client = o['client'] as EtcdClientLike | undefined;
  if (
    !client ||
    typeof client.kv?.txn !== 'function' ||
    typeof client.leaseClient?.leaseGrant !== 'function' ||
    typeof client.watchClient?.watch !== 'function'
  ) {
    throw new InvalidOptionError(
      'client',
      `Expected \`client\` to be an etcd3 client (new Etcd3({ hosts })), got ${describe(client)}`,
    );
  }
  const prefix = text('prefix', o['prefix'] ?? 'tenure/', 256);
  // etcd3's low-level calls, which this store uses, ignore a namespace's prefix: apply it here.
  const namespace = (client as { prefix?: unknown }).prefix;
  const keyPrefix = (Buffer.isBuffer(namespace) ? namespace.toString('utf8') : '') + prefix;
  const timeoutMs = integer('requestTimeoutMs', o['requestTimeoutMs'] ?? 5000, 1, 600_000);
  const heartbeatMs = integer('watchHeartbeatMs', o['watchHeartbeatMs'] ?? 5000, 100, 600_000);
  return { client, keyPrefix, timeoutMs, heartbeatMs };
}
