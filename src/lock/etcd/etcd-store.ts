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
 *   counter key without a lease; never the key's create revision, which a
 *   restore from a snapshot takes back (see terms.ts, docs/safety.md).
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
 * - FIFO queue of waiting `lock()` calls (`AcquireRequest.ticket`): a
 *   refused ticket is queued in the same transaction, a vacant name goes to
 *   the oldest live ticket, and a release names it to the waiters (see
 *   queue.ts). Callers without a ticket neither queue nor jump the queue.
 * - Every request carries a gRPC deadline of `requestTimeoutMs`.
 */
import type { IKeyValue, ITxnResponse } from 'etcd3';
import {
  InvalidOptionError,
  StoreClosedError,
  StoreError,
  StoreUnavailableError,
} from '../../errors.js';
import { describe } from '../../internal/validate.js';
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
import { classifyEtcdError } from './classify-error.js';
import { diagnoseEtcd } from './diagnose.js';
import { type Held, HeldLeases, heldUntil } from './held-leases.js';
import { EXPIRY_PENDING_MS, keepAliveOnce, remainingMsOf } from './lease-ttl.js';
import { type EtcdClientLike, type EtcdLeaseStoreOptions, etcdStoreSettings } from './options.js';
import { decodeValue, holderOf, type Keys, keys, type LeaseValue } from './records.js';
import { counterOf, nextTerm } from './terms.js';
import { ticketValue, WaitQueue } from './queue.js';
import {
  grantTxn,
  headIndex,
  moveTxn,
  type QueueTerms,
  rangeOf,
  releaseTxn,
  updateTxn,
} from './transactions.js';
import { WatchHub } from './watch-hub.js';

export type { EtcdClientLike, EtcdLeaseStoreOptions } from './options.js';

/** Transactions lost to concurrent grants before an acquire gives up (each lost one means someone else progressed). */
const MAX_CONFLICTS = 16;

/** Operations that write: a transient failure of theirs is ambiguous (see classify-error.ts). */
const WRITES = new Set(['acquire', 'renew', 'update', 'release', 'withdraw']);

export class EtcdLeaseStore implements LeaseStore {
  readonly kind = 'etcd';
  /** A lease that expires is a delete event, and the watch resumes from its revision. */
  readonly announcesExpiry = true;
  readonly #client: EtcdClientLike;
  readonly #keys: Keys;
  readonly #timeoutMs: number;
  readonly #hub: WatchHub;
  /** Leases granted here, by name and token; entries of leases abandoned unreleased are swept. */
  readonly #held = new HeldLeases();
  readonly #queue: WaitQueue;
  #closed = false;

  constructor(options: EtcdLeaseStoreOptions) {
    const { client, keyPrefix, timeoutMs, heartbeatMs } = etcdStoreSettings(options);
    this.#client = client;
    this.#keys = keys(keyPrefix);
    this.#timeoutMs = timeoutMs;
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
    this.#queue = new WaitQueue({
      client,
      keys: this.#keys,
      hub: this.#hub,
      call: () => this.#call(),
      run: (operation, name, fn) => this.#run(operation, name, fn),
      revoke: (leaseId) => this.#revokeQuietly(leaseId),
    });
  }

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    const { name, ticket } = request;
    if (ticket === undefined) return this.#acquire(request);
    return this.#queue.serialize(name, ticket, () => this.#acquire(request), 'acquire');
  }

  async #acquire(request: AcquireRequest): Promise<AcquireResult> {
    const { name, ticket } = request;
    const token = request.token.reveal();
    const key = this.#keys.lease(name);
    const termKey = this.#keys.term(name);
    const ticketKey = ticket === undefined ? undefined : this.#keys.ticket(name, ticket);
    const queue: QueueTerms = {
      range: this.#keys.queue(name),
      ticket: ticketKey && {
        key: ticketKey,
        value: ticketValue(request.ttlMs, request.identity),
      },
    };
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
    // The last transaction was refused and queued the ticket on `leaseId`: the lease then
    // carries the ticket alone (a failure after it, such as a read, keeps its place).
    let ticketOnly = false;
    try {
      let last = counterOf(counter, name);
      let head: number | undefined;
      for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
        ticketOnly = false;
        const term = nextTerm(last);
        const value: LeaseValue = {
          token,
          identity: request.identity,
          data: request.data,
          term,
          ttlMs: request.ttlMs,
        };
        const txn = await this.#run('acquire', name, () =>
          this.#client.kv.txn(
            grantTxn(key, termKey, last.revision, leaseId, value, { ...queue, head }),
            this.#call(),
          ),
        );
        if (txn.succeeded) {
          this.#held.remember(name, token, Number(txn.header.revision), leaseId, grant.TTL, value);
          if (ticket !== undefined) this.#queue.granted(name, ticket, leaseId);
          return { acquired: true, term };
        }
        // Refused: the failure branch queued the ticket on this attempt's etcd lease.
        ticketOnly = ticket !== undefined;
        if (ticket !== undefined) this.#queue.queued(name, ticket, leaseId, request.ttlMs);
        const kv = rangeOf(txn, 0)?.kvs[0];
        if (!kv) {
          const first = rangeOf(txn, headIndex(queue))?.kvs[0];
          if (first === undefined || (ticketKey !== undefined && first.key.equals(ticketKey))) {
            // Vacant and this caller's turn: the counter moved (someone was granted and
            // released in between), or its ticket just reached the head. Again, on that.
            head = first && Number(first.create_revision);
            last = counterOf(rangeOf(txn, 1), name);
            continue;
          }
          // Vacant, but another ticket's turn: back when that ticket would lapse at the latest.
          if (ticket === undefined) this.#revokeQuietly(leaseId);
          return {
            acquired: false,
            holder: null,
            reservedMs: await this.#queue.lifeMs(first, name),
          };
        }
        const holder = decodeValue(kv);
        if (holder.token === token) {
          // Our own grant, applied by an earlier attempt whose reply was lost (the client retried).
          ticketOnly = false; // the lease carries the lock
          this.#held.remember(name, token, Number(kv.create_revision), leaseId, grant.TTL, holder);
          if (ticketKey !== undefined && ticket !== undefined) {
            // The failure branch queued the ticket again, on the lease that now holds the key.
            this.#queue.granted(name, ticket, leaseId);
            await this.#run('acquire', name, () =>
              this.#client.kv.deleteRange({ key: ticketKey }, this.#call()),
            );
          }
          return { acquired: true, term: holder.term };
        }
        if (ticket === undefined) this.#revokeQuietly(leaseId);
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
      // Revoking the fresh lease deletes the key too, if an unanswered transaction created it
      // (and the ticket, if queued on it: it queues again, at the back, on the next attempt).
      if (!ticketOnly) this.#revokeQuietly(leaseId);
      throw error;
    }
  }

  /** See {@link WaitQueue.withdraw}. */
  withdraw(name: string, ticket: string): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#queue.withdraw(name, ticket);
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
    if (outcome !== 'renewed') this.#held.forget(lease);
    else held.until = heldUntil(held.grantedMs);
    return outcome;
  }

  async update(lease: LeaseRef, data: string): Promise<UpdateResult> {
    this.#assertOpen();
    const held = await this.#find(lease, 'update');
    if (typeof held === 'string') return held;
    const key = this.#keys.lease(lease.name);
    const value = { ...held.value, data };
    const txn = await this.#run('update', lease.name, () =>
      this.#client.kv.txn(updateTxn(key, held.created, value), this.#call()),
    );
    if (txn.succeeded) {
      held.value = value;
      return 'updated';
    }
    this.#held.forget(lease);
    return rangeOf(txn, 0)?.kvs[0] ? 'stolen' : 'expired';
  }

  async release(lease: LeaseRef): Promise<boolean> {
    this.#assertOpen();
    const held = await this.#find(lease, 'release');
    if (typeof held === 'string') return false;
    const key = this.#keys.lease(lease.name);
    const txn = await this.#run('release', lease.name, () =>
      this.#client.kv.txn(releaseTxn(key, held.created), this.#call()),
    );
    this.#held.forget(lease);
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

  /** With `waiting`, as {@link WaitQueue.subscribe} (a release names the ticket whose turn it is). */
  subscribe(
    name: string,
    listener: (event: LeaseEvent, detail?: LeaseEventDetail) => void,
    options?: SubscribeOptions,
  ): Promise<Unsubscribe> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    if (options?.waiting === true) return this.#queue.subscribe(name, listener);
    return this.#hub.add(this.#keys.lease(name), listener);
  }

  async diagnose(): Promise<string[]> {
    this.#assertOpen();
    const cluster = this.#client.cluster;
    return diagnoseEtcd(
      cluster && (() => this.#run('diagnose', '', () => cluster.memberList({}, this.#call()))),
    );
  }

  /**
   * Closes the watch stream; leases held stay until they expire or are
   * released. The etcd leases of tickets still queued are revoked first
   * (bounded by `timeoutMs`), while the client is still open, so a call that
   * stops waiting does not hold the queue up.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.close();
    this.#held.clear();
    await this.#queue.close(
      (leaseId) => this.#client.leaseClient.leaseRevoke({ ID: leaseId }, this.#call()),
      this.#timeoutMs,
    );
  }

  /** This store's record of the lease, or what the key says about it (another store's grant). */
  async #find(lease: LeaseRef, operation: string): Promise<Held | 'expired' | 'stolen'> {
    const held = this.#held.get(lease);
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
      until: heldUntil(grantedMs),
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
      this.#held.forget(lease);
      return 'expired';
    }
    let txn: ITxnResponse;
    try {
      txn = await this.#run('renew', lease.name, () =>
        this.#client.kv.txn(
          moveTxn(key, held.created, held.leaseId, grant.ID, held.value),
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
      this.#held.forget(lease);
      return kv ? 'stolen' : 'expired';
    }
    this.#revokeQuietly(held.leaseId);
    held.leaseId = grant.ID;
    held.grantedMs = Number(grant.TTL) * 1000;
    held.until = heldUntil(held.grantedMs);
    return 'renewed';
  }

  /** Our incarnation of the key sits on etcd lease `kv.lease`, not the one we renew: keep that one alive from now on. */
  async #adopt(held: Held, lease: LeaseRef, kv: IKeyValue): Promise<RenewResult> {
    const previous = held.leaseId;
    held.leaseId = kv.lease;
    const ttl = await this.#run('renew', lease.name, () => this.#keepAliveOnce(kv.lease));
    if (ttl <= 0) {
      this.#held.forget(lease);
      return 'expired';
    }
    held.grantedMs = ttl * 1000;
    held.until = heldUntil(held.grantedMs);
    this.#revokeQuietly(previous);
    return 'renewed';
  }

  /** One keep-alive of etcd lease `leaseId`: its ttl in seconds (≤ 0: gone). See lease-ttl.ts. */
  #keepAliveOnce(leaseId: string): Promise<number> {
    return keepAliveOnce(this.#client.leaseClient, leaseId, this.#call());
  }

  /** The holder's remaining time, from its etcd lease's time to live (see `remainingMsOf`): 0 when gone. */
  async #remainingMs(
    kv: IKeyValue,
    value: LeaseValue,
    operation: string,
    name: string,
  ): Promise<number> {
    const ttl = await this.#run(operation, name, () =>
      this.#client.leaseClient.leaseTimeToLive({ ID: kv.lease }, this.#call()),
    );
    return remainingMsOf(ttl, value);
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
