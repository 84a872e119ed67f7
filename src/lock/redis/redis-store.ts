/**
 * {@link LeaseStore} on Redis through a caller-supplied ioredis client
 * (standalone, Sentinel or Cluster). Each operation is one Lua script, sent
 * with EVALSHA in one round trip (EVAL once more after script-cache loss).
 * The caller's client is used as is and never closed; the store opens one
 * pub/sub connection with `client.duplicate()` on first `subscribe` (and,
 * with `waitReplicas`, one for the writes `WAIT` confirms) and closes them
 * in `close()`.
 */
import { randomBytes } from 'node:crypto';
import {
  ConfigurationError,
  InvalidOptionError,
  PermissionError,
  type TenureError,
  NotEnoughReplicasError,
  StoreClosedError,
  StoreUnavailableError,
} from '../../errors.js';
import { integer, ownOptions, text } from '../../internal/validate.js';
import { checkClient, type RedisClientLike, type ScanClient } from './client.js';
import type {
  AcquireRequest,
  AcquireResult,
  LeaseEvent,
  LeaseEventDetail,
  LeaseHolder,
  LeaseRef,
  LeaseStore,
  ListedLease,
  RenewResult,
  SubscribeOptions,
  Unsubscribe,
  UpdateResult,
} from '../lease-store.js';
import { classifyRedisError } from './classify-error.js';
import { inboxChannel, type LeaseKeys, leaseKeys } from './keys.js';
import { conflict, holder, toArray, toInt, toStr } from './reply.js';
import { runScript, type Script, script } from './script-runner.js';
import {
  acquireLua,
  readLua,
  releaseLua,
  renewLua,
  updateLua,
  withdrawLua,
} from './scripts.generated.js';
import { ChannelSubscriptions } from '../channel-subscriptions.js';
import { type GuardableClient, guardSentinelClient } from './sentinel-guard.js';
import { decodeNotification } from './notifications.js';
import { redisSubscriber } from './subscriber.js';
import {
  type ConfirmedWrites,
  WaitBatches,
  type WaitConnection,
  waitPool,
} from './wait-batches.js';
import { type ClusterWaitConnection, ClusterWaits } from './cluster-waits.js';

const SCRIPTS = {
  acquire: script('acquire', acquireLua, 2),
  renew: script('renew', renewLua, 1),
  release: script('release', releaseLua, 2),
  withdraw: script('withdraw', withdrawLua, 1),
  update: script('update', updateLua, 1),
  read: script('read', readLua, 1),
} as const;

export type { ClusterNode, RedisClientLike, ScanClient } from './client.js';

export interface RedisLeaseStoreOptions {
  /** An ioredis `Redis` or `Cluster` instance. Not closed by the store. */
  client: RedisClientLike;
  /**
   * Prefix of every key: `{<namespace>:<name>}:lease`. Every member of a
   * fleet must use the same namespace (and db and keyPrefix), or they do not
   * exclude each other. Same rules as a name; no `{` or `}`.
   * @default 'tenure'
   */
  namespace?: string;
  /**
   * Count an acquisition or renewal only when `WAIT` confirms that this many
   * replicas have it. With asynchronous replication a failover to a replica
   * that missed the latest renewals can otherwise elect a second leader while
   * the first still trusts its lease. Standalone and Sentinel deployments.
   * The acquisitions and renewals then go to connections of the store's own
   * (`duplicate()`s of the client, on the database the client is on; opened
   * on first use, closed by `close()`), so `WAIT` blocks them, never the
   * caller's connection. On a standalone or Sentinel client there are two,
   * and the writes waiting for one go together as one batch followed by one
   * `WAIT`; on a Cluster, one duplicate Cluster client, each write pipelined
   * with its own `WAIT`.
   * @default 0
   */
  waitReplicas?: number;
  /** How long `WAIT` may block, in ms (≥ 1; 0 would block forever). Keep it well below the request timeout. @default 50 */
  waitTimeoutMs?: number;
  /**
   * Guard against a data-losing restart (no persistence, restarted at once):
   * when the term counter of a name is found missing, nobody is granted the
   * name for this many ms (set it to the longest lease of the fleet). A leader
   * cut off from the restarted server keeps trusting its lease until its
   * deadline; the quarantine makes sure nobody else leads before then. Cost:
   * the very first acquisition of every name (and the first after any data
   * loss) waits this long. 0 disables it.
   * @default 0
   */
  quarantineMs?: number;
  /**
   * Fair hand-off: after a release that notified someone, the name is
   * reserved this long for callers that were already waiting, so a holder
   * that releases and re-locks at once cannot starve them. Anyone else is
   * delayed by at most this much; `read` shows the name vacant. Set it above
   * the time a notified waiter needs to send its attempt (one pub/sub
   * delivery plus one round trip). 0 disables it.
   * @default 50
   */
  handoffMs?: number;
}

/** Counters for observability; read by the metrics layer. */
export interface RedisStoreStats {
  /** Times a script was resent with EVAL after NOSCRIPT. */
  scriptReloads: number;
  /**
   * Times a Sentinel connection (the client or the store's subscriber) that
   * ioredis had ended on its own during a fail-over was reconnected (see
   * sentinel-guard.ts).
   */
  clientRevivals: number;
}

const OPTIONS = [
  'client',
  'namespace',
  'waitReplicas',
  'waitTimeoutMs',
  'quarantineMs',
  'handoffMs',
] as const;

export class RedisLeaseStore implements LeaseStore {
  readonly kind = 'redis';
  readonly namespace: string;
  readonly stats: RedisStoreStats = { scriptReloads: 0, clientRevivals: 0 };
  readonly #client: RedisClientLike;
  readonly #subscriptions: ChannelSubscriptions;
  readonly #sharded: boolean;
  readonly #waitReplicas: number;
  readonly #waitTimeoutMs: number;
  readonly #quarantineMs: number;
  readonly #handoffMs: number;
  /** Names this instance's inbox channels (see `subscribe({ waiting: true })`). */
  readonly #id = randomBytes(9).toString('base64url');
  #closed = false;
  readonly #unguard: () => void;
  /** With `waitReplicas`: acquisitions and renewals, confirmed by WAIT on a connection of their own. */
  readonly #waits: ConfirmedWrites;

  constructor(options: RedisLeaseStoreOptions) {
    const o = ownOptions('options', options, OPTIONS);
    this.#client = checkClient(o['client']);
    this.namespace =
      o['namespace'] === undefined ? 'tenure' : text('namespace', o['namespace'], 100, true);
    // On a Cluster, notifications use sharded pub/sub (Redis 7): a channel lives on its key's
    // shard, and its subscriber counts are right wherever the subscribers connect.
    this.#sharded = this.#client.isCluster === true;
    const revived = (): void => void this.stats.clientRevivals++;
    this.#subscriptions = new ChannelSubscriptions(() => redisSubscriber(this.#client, revived));
    this.#waitReplicas = integer('waitReplicas', o['waitReplicas'] ?? 0, 0, 100);
    this.#waitTimeoutMs = integer('waitTimeoutMs', o['waitTimeoutMs'] ?? 50, 1, 60_000);
    this.#quarantineMs = integer('quarantineMs', o['quarantineMs'] ?? 0, 0, 2_147_483_647);
    this.#handoffMs = integer('handoffMs', o['handoffMs'] ?? 50, 0, 60_000);
    if (this.#waitReplicas > 0 && typeof this.#client.pipeline !== 'function') {
      throw new InvalidOptionError(
        'waitReplicas',
        'Expected a `client` with pipeline() (ioredis Redis) when `waitReplicas` > 0',
      );
    }
    this.#unguard = guardSentinelClient(this.#client as GuardableClient, revived);
    const waits = {
      waitReplicas: this.#waitReplicas,
      waitTimeoutMs: this.#waitTimeoutMs,
      onReload: this.#onFallback,
    };
    const database = databaseOf(this.#client);
    this.#waits = this.#sharded
      ? new ClusterWaits({
          ...waits,
          // Connected at once: the first batch waits for it to be ready.
          open: () =>
            this.#client.duplicate([], {
              lazyConnect: false,
              // Merged into the caller's: its node connections never resend either.
              redisOptions: {
                reconnectOnError: withoutResend(
                  this.#client.options?.redisOptions?.reconnectOnError,
                ),
              },
            }) as unknown as ClusterWaitConnection,
          connectTimeoutMs: this.#client.options?.connectTimeout ?? 10_000,
        })
      : waitPool(
          2,
          () =>
            new WaitBatches({
              ...waits,
              open: (db) =>
                this.#client.duplicate({
                  ...(db === undefined ? {} : { db }),
                  // Connected at once: the first batch waits for it to be ready.
                  lazyConnect: false,
                  reconnectOnError: withoutResend(this.#client.options?.reconnectOnError),
                }) as unknown as WaitConnection,
              database,
              connectTimeoutMs: this.#client.options?.connectTimeout ?? 10_000,
              onRevive: revived,
            }),
        );
  }

  /**
   * Deployment problems worth a warning, best effort (permissions may hide
   * them): replicas without `waitReplicas`; `waitReplicas` below or above
   * the number of connected replicas; a memory limit with an eviction policy other than
   * `noeviction` (Redis may then evict a lease key while its holder trusts it).
   */
  async diagnose(): Promise<string[]> {
    const warnings: string[] = [];
    const memory = await this.#client.info?.('memory').catch(() => undefined);
    const policy = /maxmemory_policy:(\S+)/.exec(memory ?? '')?.[1];
    const limit = Number(/maxmemory:(\d+)/.exec(memory ?? '')?.[1] ?? 0);
    if (limit > 0 && policy !== undefined && policy !== 'noeviction') {
      warnings.push(
        `Redis evicts keys at its memory limit (maxmemory-policy ${policy}): a lease key can be evicted while its holder still trusts it, and a second holder be granted; set maxmemory-policy noeviction on the Redis that holds leases`,
      );
    }
    const info = await this.#client.info?.('replication').catch(() => undefined);
    const replicas = Number(/connected_slaves:(\d+)/.exec(info ?? '')?.[1] ?? NaN);
    if (replicas > 0 && this.#waitReplicas === 0) {
      warnings.push(
        `Redis has ${replicas} replica(s) and waitReplicas is 0: a failover can lose a renewal and elect a second leader; set waitReplicas`,
      );
    }
    if (this.#waitReplicas > 0 && this.#waitReplicas < replicas) {
      warnings.push(
        `waitReplicas is ${this.#waitReplicas} but Redis has ${replicas} replicas: a fail-over to a replica that did not confirm (Sentinel prefers replica-priority to replication offset; a demoted primary that stays reachable keeps getting confirmations from the others) can elect a second leader; set waitReplicas to the number of replicas`,
      );
    }
    if (this.#waitReplicas > replicas) {
      warnings.push(
        `waitReplicas is ${this.#waitReplicas} but Redis reports ${Number.isNaN(replicas) ? 'an unknown number of' : replicas} connected replica(s): acquisitions will fail`,
      );
    }
    return warnings;
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const keys = this.#keys(request.name);
    const {
      reply: answer,
      acks,
      waitError,
    } = await this.#runReplicated(SCRIPTS.acquire, 'acquire', keys, [
      keys.lease,
      keys.term,
      request.token.reveal(),
      request.ttlMs,
      request.identity,
      request.data,
      keys.channel,
      this.#quarantineMs,
      request.waiting === true ? '1' : '0',
      this.#sharded ? 'SPUBLISH' : 'PUBLISH',
      request.ticket ?? '',
      request.ticket === undefined ? '' : inboxChannel(this.namespace, request.name, this.#id),
      // Whether a release may grant this ticket the lease directly: not when its store
      // counts only grants that WAIT confirmed (a direct grant is not).
      this.#waitReplicas === 0 ? '1' : '0',
    ]);
    const parts = toArray(answer, 'acquire', 2);
    const status = toInt(parts[0], 'acquire status');
    if (status === 2)
      return { acquired: false, holder: null, reservedMs: Math.max(0, toInt(parts[1], 'pttl')) };
    if (status === 3) {
      // Already granted to this ticket (a direct grant), now extended: counted only when
      // WAIT confirms it, like any acquisition (no hand-back: the call may hold it).
      if (waitError) throw waitError;
      if (acks < this.#waitReplicas) throw this.#notReplicated('acquire', keys.lease, acks);
      return {
        acquired: true,
        term: toInt(parts[1], 'term'),
        grantedTokenSha1: toStr(parts[2], 'token hash'),
      };
    }
    if (status === 1) {
      const term = toInt(parts[1], 'term');
      if (waitError || acks < this.#waitReplicas) {
        // Not replicated: nobody may trust it. Hand it back rather than block others for a ttl.
        this.release({ name: request.name, token: request.token, term }).catch(() => undefined);
        throw waitError ?? this.#notReplicated('acquire', keys.lease, acks);
      }
      return { acquired: true, term };
    }
    if (status === 0) return { acquired: false, holder: holder(parts, 1) };
    throw conflict(parts);
  }

  async renew(lease: LeaseRef, ttlMs: number): Promise<RenewResult> {
    const keys = this.#keys(lease.name);
    const { reply, acks, waitError } = await this.#runReplicated(SCRIPTS.renew, 'renew', keys, [
      keys.lease,
      lease.token.reveal(),
      ttlMs,
    ]);
    const status = toInt(reply, 'renew status');
    if (status === 1 && waitError) throw waitError;
    if (status === 1 && acks < this.#waitReplicas)
      throw this.#notReplicated('renew', keys.lease, acks);
    return status === 1 ? 'renewed' : status === 0 ? 'expired' : 'stolen';
  }

  async update(lease: LeaseRef, data: string): Promise<UpdateResult> {
    const keys = this.#keys(lease.name);
    const reply = await this.#run(SCRIPTS.update, 'update', keys, [
      keys.lease,
      lease.token.reveal(),
      data,
      keys.channel,
      this.#sharded ? 'SPUBLISH' : 'PUBLISH',
    ]);
    const status = toInt(reply, 'update status');
    return status === 1 ? 'updated' : status === 0 ? 'expired' : 'stolen';
  }

  async release(lease: LeaseRef): Promise<boolean> {
    const keys = this.#keys(lease.name);
    const reply = await this.#run(SCRIPTS.release, 'release', keys, [
      keys.lease,
      keys.term,
      lease.token.reveal(),
      keys.channel,
      this.#handoffMs,
      this.#sharded ? '1' : '0',
      // A direct grant to the next waiter would not be confirmed by WAIT: with
      // waitReplicas the release names the waiter, whose own acquire is confirmed.
      this.#waitReplicas === 0 ? '1' : '0',
    ]);
    return toInt(reply, 'release status') === 1;
  }

  /**
   * Takes a waiting call's ticket out of the FIFO queue (see acquire.lua); if
   * it was next while the name is vacant, the following ticket is woken.
   */
  async withdraw(name: string, ticket: string): Promise<void> {
    const keys = this.#keys(name);
    await this.#run(SCRIPTS.withdraw, 'withdraw', keys, [
      keys.lease,
      ticket,
      keys.channel,
      this.#sharded ? 'SPUBLISH' : 'PUBLISH',
    ]);
  }

  async read(name: string): Promise<LeaseHolder | null> {
    const keys = this.#keys(name);
    const parts = toArray(await this.#run(SCRIPTS.read, 'read', keys, [keys.lease]), 'read', 1);
    const status = toInt(parts[0], 'read status');
    if (status === 0) return null;
    if (status === 1) return holder(parts, 1);
    throw conflict(parts);
  }

  /**
   * Every name under this namespace that starts with `prefix` and is held
   * now, sorted by name: `SCAN` on the lease-key pattern (on every primary of
   * a Cluster), then the read script per key. Costs a full key-space scan;
   * meant for status pages, not for hot paths. Needs `+scan` in an ACL.
   */
  async list(prefix: string): Promise<ListedLease[]> {
    if (this.#closed) throw new StoreClosedError();
    const keyPrefix = this.#client.options?.keyPrefix ?? '';
    const tag = `{${this.namespace}:`;
    const pattern = `${globEscape(keyPrefix + tag + prefix)}*}:lease`;
    const nodes: ScanClient[] =
      typeof this.#client.nodes === 'function'
        ? this.#client.nodes('master')
        : [this.#client as Required<Pick<RedisClientLike, 'scan'>>];
    // A Cluster client that has not loaded its slot map yet knows no primaries:
    // an empty scan would report "nothing held" when it did not look.
    if (nodes.length === 0)
      throw new StoreUnavailableError(
        'list: the Cluster client knows no primaries yet (not connected, or the slot map is not loaded)',
      );
    const names = new Set<string>();
    try {
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = String(next);
          for (const key of keys) names.add(key.slice((keyPrefix + tag).length, -'}:lease'.length));
        } while (cursor !== '0');
      }
    } catch (error) {
      throw classifyRedisError(error, 'list', pattern);
    }
    const sorted = [...names].sort();
    const holders = await Promise.all(sorted.map((name) => this.read(name)));
    return sorted.flatMap((name, i) => {
      const holder = holders[i];
      return holder ? [{ name, ...holder }] : [];
    });
  }

  /**
   * With `{ waiting: true }` (the Locker's waiters, whose requests carry
   * tickets) only this instance's inbox for the name is subscribed: the grant
   * or turn of its own tickets, and the hint to the ticket queued next, not
   * every event of the name.
   */
  async subscribe(
    name: string,
    listener: (event: LeaseEvent, detail?: LeaseEventDetail) => void,
    options?: SubscribeOptions,
  ): Promise<Unsubscribe> {
    if (this.#closed) throw new StoreClosedError();
    const keys = this.#keys(name);
    const channel =
      options?.waiting === true ? inboxChannel(this.namespace, name, this.#id) : keys.channel;
    try {
      return await this.#subscriptions.add(channel, (message) => {
        const decoded = decodeNotification(message);
        if (decoded) listener(...decoded);
      });
    } catch (error) {
      throw classifyRedisError(error, 'subscribe', channel);
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#unguard();
    this.#subscriptions.close();
    this.#waits.close();
    return Promise.resolve();
  }

  #keys(name: string): LeaseKeys {
    return leaseKeys(this.namespace, name);
  }

  /**
   * Runs a writing script; with `waitReplicas` > 0 it is followed by `WAIT`
   * in the same round trip (batched on the store's own connection, or
   * pipelined on a Cluster client) and `acks` says how many replicas confirmed.
   * A `WAIT` that failed (ACL without `+wait`, a proxy that lacks it) is
   * `waitError`, never read as "0 replicas": retrying would not fix it.
   */
  #runReplicated(
    s: Script,
    operation: string,
    keys: LeaseKeys,
    args: (string | number)[],
  ): Promise<Replicated> {
    if (this.#waitReplicas === 0)
      return this.#run(s, operation, keys, args).then((reply): Replicated => ({ reply, acks: 0 }));
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#waits.run(s, args, `${operation} on ${JSON.stringify(keys.lease)}`).then(
      ({ reply, acks, waitError }): Replicated =>
        waitError
          ? { reply, acks: 0, waitError: classifyWaitError(waitError, keys.lease) }
          : { reply, acks },
      (error: unknown) => {
        throw classifyRedisError(error, operation, keys.lease);
      },
    );
  }

  #notReplicated(operation: string, key: string, acks: number): NotEnoughReplicasError {
    return new NotEnoughReplicasError(
      `\`${operation}\` on ${JSON.stringify(key)} reached ${acks} of ${this.#waitReplicas} replicas within ${this.#waitTimeoutMs} ms; not counted`,
      { ambiguous: true },
    );
  }

  #run(s: Script, operation: string, keys: LeaseKeys, args: (string | number)[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return runScript(this.#client, s, args, this.#onFallback).catch((error: unknown) => {
      throw classifyRedisError(error, operation, keys.lease);
    });
  }

  readonly #onFallback = (): void => {
    this.stats.scriptReloads++;
  };
}

interface Replicated {
  readonly reply: unknown;
  readonly acks: number;
  readonly waitError?: TenureError;
}

/** A failed `WAIT`: a configuration problem (never "0 replicas", which would be retried forever). */
function classifyWaitError(error: Error, key: string): TenureError {
  const message = error.message;
  if (message.startsWith('NOPERM') || message.includes("can't run this command"))
    return new PermissionError(
      `Redis refused \`WAIT\` for ${JSON.stringify(key)}: ACL denied it; waitReplicas needs +wait in the ACL`,
      { cause: error },
    );
  if (/unknown command/i.test(message))
    return new ConfigurationError(
      `Redis (or a proxy in front of it) does not support \`WAIT\`, which waitReplicas needs: ${message}`,
      { cause: error },
    );
  return classifyRedisError(error, 'wait', key);
}

/**
 * The database an ioredis client is on, read while it is ready (`condition.select`
 * follows its `SELECT`s; while it reconnects it reports the configured one until
 * it has selected again): the last value read then.
 */
function databaseOf(client: RedisClientLike): () => number | undefined {
  let last = client.options?.db;
  return () => {
    const select = (client as { condition?: { select?: unknown } }).condition?.select;
    if (client.status === 'ready' && typeof select === 'number') last = select;
    return last;
  };
}

/**
 * `reconnectOnError` for the store's WAIT connections: the caller's choice, but
 * never "resend" (2), which sends the failed command alone on a new connection
 * while its `WAIT` is answered on the old one: a write a `WAIT` did not cover.
 */
function withoutResend(
  own: ((error: Error) => boolean | 1 | 2) | null | undefined,
): (error: Error) => boolean | 1 | 2 {
  return (error) => {
    const answer = own?.(error) ?? false;
    return answer === 2 ? 1 : answer;
  };
}

/** Escapes Redis glob characters so a name matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
