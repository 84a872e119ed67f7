/**
 * The etcd keys and values of one store. Under the store's `prefix`:
 * - `leases/<name>`: the lease, attached to an etcd lease (it disappears
 *   when the lease is revoked or expires). Its value is JSON:
 *   `{ v: 1, token, identity, data, term, ttlMs }`.
 * - `terms/<name>`: the last term issued for the name, a decimal string,
 *   with no etcd lease: it outlives releases and expiries.
 * - `queue/<length of name>/<name>/<ticket>`: one waiting `lock()` call in
 *   the name's FIFO queue (see queue.ts), on the etcd lease of its latest
 *   attempt; its create revision is its place. The length makes one name's
 *   queue range never cover another's (`a/` and `a/b/` would).
 * - `turn/<name>`: written when a queued call withdraws while the name is
 *   vacant, so the waiters' watch wakes the next ticket (see queue.ts).
 */
import type { IKeyValue } from 'etcd3';
import { StoreError } from '../../errors.js';
import type { LeaseHolder } from '../lease-store.js';

export interface LeaseValue {
  readonly token: string;
  readonly identity: string;
  readonly data: string;
  readonly term: number;
  readonly ttlMs: number;
}

export interface Keys {
  lease(name: string): Buffer;
  term(name: string): Buffer;
  /** Range covering every lease key whose name starts with `prefix`. */
  leaseRange(prefix: string): { key: Buffer; range_end: Buffer };
  /** The name in a lease key. */
  nameOf(key: Buffer): string;
  /** Range covering every ticket queued for `name`. */
  queue(name: string): { key: Buffer; range_end: Buffer };
  /** The queue key of `ticket` waiting for `name`. */
  ticket(name: string, ticket: string): Buffer;
  /** The ticket in a queue key of `name`. */
  ticketOf(name: string, key: Buffer): string;
  /** The key a withdrawal writes to wake the next ticket of `name`. */
  turn(name: string): Buffer;
}

export function keys(prefix: string): Keys {
  const leases = `${prefix}leases/`;
  const queueOf = (name: string): string => `${prefix}queue/${name.length}/${name}/`;
  return {
    lease: (name) => Buffer.from(leases + name),
    term: (name) => Buffer.from(`${prefix}terms/${name}`),
    leaseRange: (namePrefix) => {
      const key = Buffer.from(leases + namePrefix);
      return { key, range_end: prefixEnd(key) };
    },
    nameOf: (key) => key.toString('utf8').slice(leases.length),
    queue: (name) => {
      const key = Buffer.from(queueOf(name));
      return { key, range_end: prefixEnd(key) };
    },
    ticket: (name, ticket) => Buffer.from(queueOf(name) + ticket),
    ticketOf: (name, key) => key.subarray(Buffer.byteLength(queueOf(name))).toString('utf8'),
    turn: (name) => Buffer.from(`${prefix}turn/${name}`),
  };
}

/** The smallest key greater than every key with this prefix (etcd's `GetPrefixRangeEnd`). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}

export function encodeValue(value: LeaseValue): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...value }));
}

export function decodeValue(kv: IKeyValue): LeaseValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(kv.value.toString('utf8'));
  } catch (error) {
    throw unexpected(kv, error);
  }
  const v = parsed as Partial<Record<keyof LeaseValue | 'v', unknown>> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    v.v !== 1 ||
    typeof v.token !== 'string' ||
    typeof v.identity !== 'string' ||
    typeof v.data !== 'string' ||
    typeof v.term !== 'number' ||
    typeof v.ttlMs !== 'number'
  )
    throw unexpected(kv);
  return { token: v.token, identity: v.identity, data: v.data, term: v.term, ttlMs: v.ttlMs };
}

function unexpected(kv: IKeyValue, cause?: unknown): StoreError {
  return new StoreError(
    `etcd key ${JSON.stringify(kv.key.toString('utf8'))} does not hold a tenure lease (written by something else?)`,
    { cause, ambiguous: false, retryable: false },
  );
}

export function holderOf(value: LeaseValue, remainingMs: number): LeaseHolder {
  return { identity: value.identity, term: value.term, data: value.data, remainingMs };
}
