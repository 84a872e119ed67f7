/**
 * {@link LeaseStore} on etcd v3 through the caller's `etcd3` client, using
 * only its low-level KV, Lease and Watch calls (not its `Election`/`Lock`).
 *
 * - acquire: an etcd lease of `ceil(ttlMs / 1000)` seconds (etcd counts
 *   whole seconds and raises short ttls to its minimum) granted while the
 *   term counter is read, then one transaction: if the lease key does not
 *   exist and the counter is unchanged, create the key on that lease and
 *   store the new term in the counter; otherwise return the holder. Two
 *   round trips when granted; a refusal adds one (`LeaseTimeToLive` of the
 *   holder's lease, for its remaining time).
 * - Terms: `max(counter + 1, this process's wall clock in µs)`, kept in a
 *   counter key without a lease. Not the key's create revision, although
 *   that is strictly increasing within one etcd history: a restore from a
 *   snapshot (or a cluster rebuilt from nothing) takes revisions back, and a
 *   fencing token must never go back (docs/safety.md, "etcd").
 * - renew: a keep-alive of the lock's own etcd lease, and in the same round
 *   trip a linearizable read of the key: `expired` when the key is gone,
 *   `stolen` when it is another incarnation (create revision). A renewal
 *   asking for more than the lease was granted moves the key to a new
 *   lease (two round trips; `Locker` and `Elector` never do this).
 * - release: delete the key if its create revision is ours (one
 *   transaction), then revoke the etcd lease in the background.
 * - The holder's validity still comes from its own monotonic clock
 *   (`LeaseKeeper`); etcd's expiry is counted from when its leader handled
 *   the grant or keep-alive, never earlier than the request was sent.
 * - Notifications: etcd's own watch (`WatchHub`), no subscriber count and no
 *   hand-off reservation (see docs/safety.md).
 * - Every request carries a gRPC deadline of `requestTimeoutMs`.
 */
import type { Etcd3, IKeyValue, IRangeResponse, ITxnResponse } from 'etcd3';
import {
  InvalidOptionError,
  StoreClosedError,
  StoreError,
  StoreUnavailableError,
} from '../../errors.js';
import { describe, integer, ownOptions, text } from '../../internal/validate.js';
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
  Unsubscribe,
  UpdateResult,
} from '../lease-store.js';
import { classifyEtcdError } from './classify-error.js';
import { decodeValue, encodeValue, holderOf, type Keys, keys, type LeaseValue } from './records.js';
import { WatchHub } from './watch-hub.js';

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

/** What this store knows about a lease it granted. */
interface Held {
  readonly name: string;
  /** Create revision of the key: which incarnation is ours. */
  readonly created: number;
  leaseId: string;
  grantedMs: number;
  value: LeaseValue;
  /** Monotonic time after which etcd has surely dropped the lease if it was not renewed. */
  until: number;
}

/** Reported for a holder whose etcd lease is gone but whose key etcd has not deleted yet. */
const EXPIRY_PENDING_MS = 100;
/** How long past its etcd ttl a lease this store granted is remembered without a renewal. */
const SWEEP_MARGIN_MS = 60_000;
/** Transactions lost to concurrent grants before an acquire gives up (each lost one means someone else progressed). */
const MAX_CONFLICTS = 16;

const OPTIONS = ['client', 'prefix', 'requestTimeoutMs', 'watchHeartbeatMs'] as const;
/** Operations that write: a transient failure of theirs is ambiguous (see classify-error.ts). */
const WRITES = new Set(['acquire', 'renew', 'update', 'release']);

export class EtcdLeaseStore implements LeaseStore {
  readonly kind = 'etcd';
  /** A lease that expires is a delete event, and the watch resumes from its revision. */
  readonly announcesExpiry = true;
  readonly #client: EtcdClientLike;
  readonly #keys: Keys;
  readonly #timeoutMs: number;
  readonly #hub: WatchHub;
  /** Leases granted here, by name and token; entries of leases abandoned unreleased are swept. */
  readonly #held = new Map<string, Held>();
  #sweepAt = 256;
  #closed = false;

  constructor(options: EtcdLeaseStoreOptions) {
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
    this.#client = client;
    const prefix = text('prefix', o['prefix'] ?? 'tenure/', 256);
    // etcd3's low-level calls, which this store uses, ignore a namespace's prefix: apply it here.
    const namespace = (client as { prefix?: unknown }).prefix;
    this.#keys = keys((Buffer.isBuffer(namespace) ? namespace.toString('utf8') : '') + prefix);
    this.#timeoutMs = integer('requestTimeoutMs', o['requestTimeoutMs'] ?? 5000, 1, 600_000);
    const heartbeatMs = integer('watchHeartbeatMs', o['watchHeartbeatMs'] ?? 5000, 100, 600_000);
    this.#hub = new WatchHub(
      {
        openStream: () => this.#client.watchClient.watch(),
        readKey: async (key) => {
          const r = await this.#client.kv.range({ key }, this.#call());
          return {
            created: Number(r.kvs[0]?.create_revision ?? 0),
            modified: Number(r.kvs[0]?.mod_revision ?? 0),
            revision: Number(r.header.revision),
          };
        },
      },
      heartbeatMs,
    );
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#assertOpen();
    const { name } = request;
    const token = request.token.reveal();
    const key = this.#keys.lease(name);
    const termKey = this.#keys.term(name);
    const [granted, read] = await Promise.allSettled([
      this.#run('acquire', name, () =>
        this.#client.leaseClient.leaseGrant(
          { TTL: Math.max(1, Math.ceil(request.ttlMs / 1000)) },
          this.#call(),
        ),
      ),
      // Serializable (a member's local view) is enough: the transaction compares the counter's revision.
      this.#run('acquire', name, () =>
        this.#client.kv.range({ key: termKey, serializable: true }, this.#call()),
      ),
    ]);
    if (granted.status === 'rejected') throw granted.reason;
    const grant = granted.value;
    if (read.status === 'rejected') {
      this.#revokeQuietly(grant.ID); // granted for nothing
      throw read.reason;
    }
    const counter = read.value;
    const leaseId = grant.ID;
    try {
      let last = counterOf(counter, name);
      for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
        const term = Math.max(last.term + 1, Math.floor(wallClockMs() * 1000));
        const value: LeaseValue = {
          token,
          identity: request.identity,
          data: request.data,
          term,
          ttlMs: request.ttlMs,
        };
        const txn = await this.#run('acquire', name, () =>
          this.#client.kv.txn(
            {
              compare: [
                { key, target: 'Create', result: 'Equal', create_revision: 0 },
                { key: termKey, target: 'Mod', result: 'Equal', mod_revision: last.revision },
              ],
              success: [
                { request_put: { key, value: encodeValue(value), lease: leaseId } },
                { request_put: { key: termKey, value: Buffer.from(String(term)) } },
              ],
              failure: [{ request_range: { key } }, { request_range: { key: termKey } }],
            },
            this.#call(),
          ),
        );
        if (txn.succeeded) {
          this.#remember(name, token, Number(txn.header.revision), leaseId, grant.TTL, value);
          return { acquired: true, term };
        }
        const kv = rangeOf(txn, 0)?.kvs[0];
        if (!kv) {
          // Vacant, but someone was granted and released in between: try again on the new counter.
          last = counterOf(rangeOf(txn, 1), name);
          continue;
        }
        const holder = decodeValue(kv);
        if (holder.token === token) {
          // Our own grant, applied by an earlier attempt whose reply was lost (the client retried).
          this.#remember(name, token, Number(kv.create_revision), leaseId, grant.TTL, holder);
          return { acquired: true, term: holder.term };
        }
        this.#revokeQuietly(leaseId);
        const remainingMs = await this.#remainingMs(kv, holder, 'acquire', name);
        return {
          acquired: false,
          holder: holderOf(holder, remainingMs > 0 ? remainingMs : EXPIRY_PENDING_MS),
        };
      }
      throw new StoreUnavailableError(
        `etcd: \`acquire\` on ${JSON.stringify(name)} lost ${MAX_CONFLICTS} transactions in a row to concurrent grants`,
        { ambiguous: false },
      );
    } catch (error) {
      // Revoking the fresh lease deletes the key too, if an unanswered transaction created it.
      this.#revokeQuietly(leaseId);
      throw error;
    }
  }

  async renew(lease: LeaseRef, ttlMs: number): Promise<RenewResult> {
    this.#assertOpen();
    const held = await this.#find(lease, 'renew');
    if (typeof held === 'string') return held;
    if (ttlMs > held.grantedMs) return this.#relet(held, lease, ttlMs);
    const key = this.#keys.lease(lease.name);
    const [ttl, current] = await this.#run('renew', lease.name, () =>
      Promise.all([
        this.#keepAliveOnce(held.leaseId),
        this.#client.kv.range({ key }, this.#call()),
      ]),
    );
    const kv = current.kvs[0];
    if (kv && Number(kv.create_revision) === held.created && kv.lease !== held.leaseId)
      return this.#adopt(held, lease, kv);
    const outcome = !kv
      ? 'expired'
      : Number(kv.create_revision) !== held.created
        ? 'stolen'
        : ttl <= 0
          ? 'expired'
          : 'renewed';
    if (outcome !== 'renewed') this.#forget(lease);
    else held.until = performance.now() + held.grantedMs + SWEEP_MARGIN_MS;
    return outcome;
  }

  async update(lease: LeaseRef, data: string): Promise<UpdateResult> {
    this.#assertOpen();
    const held = await this.#find(lease, 'update');
    if (typeof held === 'string') return held;
    const key = this.#keys.lease(lease.name);
    const value = { ...held.value, data };
    const txn = await this.#run('update', lease.name, () =>
      this.#client.kv.txn(
        {
          compare: [{ key, target: 'Create', result: 'Equal', create_revision: held.created }],
          success: [{ request_put: { key, value: encodeValue(value), ignore_lease: true } }],
          failure: [{ request_range: { key } }],
        },
        this.#call(),
      ),
    );
    if (txn.succeeded) {
      held.value = value;
      return 'updated';
    }
    this.#forget(lease);
    return rangeOf(txn, 0)?.kvs[0] ? 'stolen' : 'expired';
  }

  async release(lease: LeaseRef): Promise<boolean> {
    this.#assertOpen();
    const held = await this.#find(lease, 'release');
    if (typeof held === 'string') return false;
    const key = this.#keys.lease(lease.name);
    const txn = await this.#run('release', lease.name, () =>
      this.#client.kv.txn(
        {
          compare: [{ key, target: 'Create', result: 'Equal', create_revision: held.created }],
          success: [{ request_delete_range: { key } }],
          failure: [],
        },
        this.#call(),
      ),
    );
    this.#forget(lease);
    this.#revokeQuietly(held.leaseId);
    return txn.succeeded;
  }

  async read(name: string): Promise<LeaseHolder | null> {
    this.#assertOpen();
    const r = await this.#run('read', name, () =>
      this.#client.kv.range({ key: this.#keys.lease(name) }, this.#call()),
    );
    const kv = r.kvs[0];
    if (!kv) return null;
    const value = decodeValue(kv);
    const remainingMs = await this.#remainingMs(kv, value, 'read', name);
    return remainingMs > 0 ? holderOf(value, remainingMs) : null;
  }

  async list(prefix: string): Promise<ListedLease[]> {
    this.#assertOpen();
    if (typeof prefix !== 'string')
      throw new InvalidOptionError(
        'prefix',
        `Expected \`prefix\` to be a string, got ${describe(prefix)}`,
      );
    const r = await this.#run('list', prefix, () =>
      this.#client.kv.range(this.#keys.leaseRange(prefix), this.#call()),
    );
    const listed = await Promise.all(
      r.kvs.map(async (kv) => {
        const name = this.#keys.nameOf(kv.key);
        const value = decodeValue(kv);
        const remainingMs = await this.#remainingMs(kv, value, 'list', name);
        return remainingMs > 0 ? [{ name, ...holderOf(value, remainingMs) }] : [];
      }),
    );
    return listed.flat().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  subscribe(
    name: string,
    listener: (event: LeaseEvent, detail?: LeaseEventDetail) => void,
  ): Promise<Unsubscribe> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#hub.add(this.#keys.lease(name), listener);
  }

  async diagnose(): Promise<string[]> {
    this.#assertOpen();
    const warnings: string[] = [];
    const cluster = this.#client.cluster;
    if (cluster) {
      const { members } = await this.#run('diagnose', '', () =>
        cluster.memberList({}, this.#call()),
      );
      if (members.length < 3) {
        warnings.push(
          `etcd has ${members.length} member(s): losing one stops every election; run 3 or 5 members`,
        );
      }
    }
    return warnings;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#hub.close();
      this.#held.clear();
    }
    return Promise.resolve();
  }

  /** This store's record of the lease, or what the key says about it (another store's grant). */
  async #find(lease: LeaseRef, operation: string): Promise<Held | 'expired' | 'stolen'> {
    const held = this.#held.get(heldKey(lease));
    if (held) return held;
    const r = await this.#run(operation, lease.name, () =>
      this.#client.kv.range({ key: this.#keys.lease(lease.name) }, this.#call()),
    );
    const kv = r.kvs[0];
    if (!kv) return 'expired';
    const value = decodeValue(kv);
    if (value.token !== lease.token.reveal()) return 'stolen';
    const grantedMs = Math.ceil(value.ttlMs / 1000) * 1000;
    return {
      name: lease.name,
      created: Number(kv.create_revision),
      leaseId: kv.lease,
      grantedMs,
      value,
      until: performance.now() + grantedMs + SWEEP_MARGIN_MS,
    };
  }

  /**
   * Moves the key to a new, longer etcd lease (a renewal asking for more
   * than the grant). The old lease is kept alive first (in parallel with the
   * new grant): a lease that already ran out is `expired`, never revived.
   * Only a move that surely did not apply revokes the new lease; after an
   * ambiguous failure both leases are left to run (the key is on one of
   * them, each lasting at least as long as the holder's current deadline),
   * and the next renewal keeps alive whichever lease the key is on.
   */
  async #relet(held: Held, lease: LeaseRef, ttlMs: number): Promise<RenewResult> {
    const key = this.#keys.lease(lease.name);
    const [granted, kept] = await Promise.allSettled([
      this.#run('renew', lease.name, () =>
        this.#client.leaseClient.leaseGrant({ TTL: Math.ceil(ttlMs / 1000) }, this.#call()),
      ),
      this.#run('renew', lease.name, () => this.#keepAliveOnce(held.leaseId)),
    ]);
    if (granted.status === 'rejected') throw granted.reason;
    const grant = granted.value;
    if (kept.status === 'rejected' || kept.value <= 0) {
      this.#revokeQuietly(grant.ID);
      if (kept.status === 'rejected') throw kept.reason;
      this.#forget(lease);
      return 'expired';
    }
    let txn: ITxnResponse;
    try {
      txn = await this.#run('renew', lease.name, () =>
        this.#client.kv.txn(
          {
            compare: [
              { key, target: 'Create', result: 'Equal', create_revision: held.created },
              { key, target: 'Lease', result: 'Equal', lease: held.leaseId },
            ],
            success: [{ request_put: { key, value: encodeValue(held.value), lease: grant.ID } }],
            failure: [{ request_range: { key } }],
          },
          this.#call(),
        ),
      );
    } catch (error) {
      if (error instanceof StoreError && !error.ambiguous) this.#revokeQuietly(grant.ID);
      throw error;
    }
    if (!txn.succeeded) {
      this.#revokeQuietly(grant.ID);
      const kv = rangeOf(txn, 0)?.kvs[0];
      if (kv && Number(kv.create_revision) === held.created) {
        // Ours, on another lease: an earlier move applied without an answer. Keep that one.
        return this.#adopt(held, lease, kv);
      }
      this.#forget(lease);
      return kv ? 'stolen' : 'expired';
    }
    this.#revokeQuietly(held.leaseId);
    held.leaseId = grant.ID;
    held.grantedMs = Number(grant.TTL) * 1000;
    held.until = performance.now() + held.grantedMs + SWEEP_MARGIN_MS;
    return 'renewed';
  }

  /** Our incarnation of the key sits on etcd lease `kv.lease`, not the one we renew: keep that one alive from now on. */
  async #adopt(held: Held, lease: LeaseRef, kv: IKeyValue): Promise<RenewResult> {
    const previous = held.leaseId;
    held.leaseId = kv.lease;
    const ttl = await this.#run('renew', lease.name, () => this.#keepAliveOnce(kv.lease));
    if (ttl <= 0) {
      this.#forget(lease);
      return 'expired';
    }
    held.grantedMs = ttl * 1000;
    held.until = performance.now() + held.grantedMs + SWEEP_MARGIN_MS;
    this.#revokeQuietly(previous);
    return 'renewed';
  }

  /**
   * One keep-alive on a short-lived stream; resolves with the ttl etcd
   * reports (≤ 0: the lease is gone). After the reply the stream is
   * half-closed (`end()`), which etcd answers by closing it: cancelling it
   * instead (RST_STREAM) made the next requests on the connection take an
   * extra round trip (measured through a delaying proxy).
   */
  async #keepAliveOnce(leaseId: string): Promise<number> {
    const stream = await this.#client.leaseClient.leaseKeepAlive(this.#call());
    let answered = false;
    try {
      return await new Promise<number>((resolve, reject) => {
        stream.on('data', (reply) => {
          answered = true;
          resolve(Number(reply.TTL));
        });
        stream.on('error', reject);
        stream.on('end', () =>
          reject(
            new StoreUnavailableError('etcd ended the keep-alive stream without a reply', {
              ambiguous: true,
            }),
          ),
        );
        stream.write({ ID: leaseId });
      });
    } finally {
      try {
        if (answered) stream.end();
        else stream.cancel(); // failed or timed out: the 'error' it may emit now is ignored
      } catch {
        // already closed
      }
    }
  }

  /**
   * The holder's remaining time. etcd reports whole seconds rounded toward
   * zero (0: under a second left, or run out and about to be deleted; -1:
   * gone), so this is an upper bound, within 1 s, of when etcd frees the name.
   */
  async #remainingMs(
    kv: IKeyValue,
    value: LeaseValue,
    operation: string,
    name: string,
  ): Promise<number> {
    const ttl = await this.#run(operation, name, () =>
      this.#client.leaseClient.leaseTimeToLive({ ID: kv.lease }, this.#call()),
    );
    const seconds = Number(ttl.TTL);
    if (seconds < 0) return 0;
    return Math.min(seconds * 1000 + 999, Math.max(Number(ttl.grantedTTL) * 1000, value.ttlMs));
  }

  #remember(
    name: string,
    token: string,
    created: number,
    leaseId: string,
    grantedTtl: string,
    value: LeaseValue,
  ): void {
    const grantedMs = Number(grantedTtl) * 1000;
    this.#held.set(`${name}\u0000${token}`, {
      name,
      created,
      leaseId,
      grantedMs,
      value,
      until: performance.now() + grantedMs + SWEEP_MARGIN_MS,
    });
    if (this.#held.size >= this.#sweepAt) {
      // Locks dropped without release (lost by their deadline, abandoned) would pile up here.
      const now = performance.now();
      for (const [key, held] of this.#held) if (held.until < now) this.#held.delete(key);
      this.#sweepAt = Math.max(256, 2 * this.#held.size);
    }
  }

  #forget(lease: LeaseRef): void {
    this.#held.delete(heldKey(lease));
  }

  #revokeQuietly(leaseId: string): void {
    if (this.#closed) return;
    this.#client.leaseClient.leaseRevoke({ ID: leaseId }, this.#call()).catch(() => undefined);
  }

  async #run<T>(operation: string, name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw classifyEtcdError(error, operation, name, WRITES.has(operation));
    }
  }

  #call(): { deadline: number } {
    return { deadline: Date.now() + this.#timeoutMs };
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

function heldKey(lease: LeaseRef): string {
  return `${lease.name}\u0000${lease.token.reveal()}`;
}

function rangeOf(txn: ITxnResponse, index: number): IRangeResponse | undefined {
  return txn.responses[index]?.response_range;
}

/** The term counter and the revision to compare it on (0: no counter yet). */
function counterOf(
  range: IRangeResponse | undefined,
  name: string,
): { term: number; revision: number } {
  const kv = range?.kvs[0];
  if (!kv) return { term: 0, revision: 0 };
  const term = Number(kv.value.toString('utf8'));
  if (!Number.isSafeInteger(term) || term < 0) {
    throw new StoreError(
      `etcd: the term counter of ${JSON.stringify(name)} holds ${JSON.stringify(kv.value.toString('utf8'))}, not a term`,
      { ambiguous: false, retryable: false },
    );
  }
  return { term, revision: Number(kv.mod_revision) };
}

/**
 * The system's wall clock, read now (`Date.now()`), so a correction of the
 * clock (an NTP step) after this process started counts; a monotonic-based
 * reading (`performance.timeOrigin + now()`) would keep a start-time error.
 */
function wallClockMs(): number {
  return Date.now();
}
