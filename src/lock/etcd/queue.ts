/**
 * The etcd store's FIFO queue of waiting `lock()` calls (see
 * `AcquireRequest.ticket`), kept in etcd itself so it holds across
 * processes:
 * - A refused attempt with a ticket puts the ticket's key under the name's
 *   queue range in the same transaction, on that attempt's etcd lease. A put
 *   keeps an existing key's create revision, so the ticket keeps its place
 *   across attempts, and lives as long as its latest attempt's etcd lease
 *   (`ceil(ttlMs / 1000)` s): a waiter that died holds the queue up for at
 *   most that long.
 * - A vacant name is granted only when the queue is empty, or to the caller
 *   whose ticket key a read showed at the head (lowest create revision): it
 *   stays the head until deleted, since any key created later has a higher
 *   revision. The grant deletes the ticket key in the same transaction.
 *   Callers without a ticket (tryLock, electors) need an empty queue: they
 *   neither queue nor jump it.
 * - Waiters watch the lease key; a release (a delete) is reported with the
 *   head's ticket (`LeaseEventDetail.next`), read once per subscription, so
 *   only that waiter tries. A withdrawal while the name is vacant writes the
 *   `turn/<name>` key (and deletes it), whose watch wakes the next ticket the
 *   same way.
 * - A ticket's operations run one after another in this store (see
 *   `WaitQueue.serialize`).
 *
 * Safety does not depend on the queue: a grant still requires the lease key
 * to be absent (see transactions.ts). The queue decides only who goes next.
 */
import type { IKeyValue, ITxnRequest } from 'etcd3';
import { StoreUnavailableError } from '../../errors.js';
import type { LeaseEvent, LeaseEventDetail, Unsubscribe } from '../lease-store.js';
import type { EtcdClientLike } from './options.js';
import { EXPIRY_PENDING_MS } from './lease-ttl.js';
import type { Keys } from './records.js';
import { headRange } from './transactions.js';
import type { WatchHub, WatchListener } from './watch-hub.js';

/** A ticket key's value: what a waiter needs to know about another's ticket. */
export function ticketValue(ttlMs: number, identity: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ttlMs, identity }));
}

/** What the queue needs from its store. */
export interface WaitQueueDeps {
  readonly client: EtcdClientLike;
  readonly keys: Keys;
  readonly hub: WatchHub;
  /** A request's call options (its gRPC deadline). */
  readonly call: () => { deadline: number };
  /** Runs a request, mapping its failure to a typed store error. */
  readonly run: <T>(operation: string, name: string, fn: () => Promise<T>) => Promise<T>;
  /** Revokes an etcd lease in the background, ignoring failures. */
  readonly revoke: (leaseId: string) => void;
}

/** A store's side of the queue: which etcd lease its tickets sit on, withdrawals, and waiters' events. */
export class WaitQueue {
  readonly #deps: WaitQueueDeps;
  readonly #tickets = new QueuedTickets();
  /** Per ticket, the settling of its latest operation (see {@link serialize}). */
  readonly #chains = new Map<string, Promise<void>>();
  /** Per ticket with operations in flight, the number of its latest acquire. */
  readonly #latest = new Map<string, number>();

  constructor(deps: WaitQueueDeps) {
    this.#deps = deps;
  }

  /**
   * Runs `operation` (an acquire or the withdrawal of `ticket`) once every
   * earlier operation of the same ticket has settled. Attempts of one call
   * can overlap (the caller's per-request timeout gives up on a slow one and
   * sends the next), and the ticket's bookkeeping must see them in order:
   * the lease of an earlier attempt is revoked as "the ticket's previous
   * lease", which is safe only once that attempt is over (a grant on it
   * would otherwise be revoked under its holder), and a withdrawal must come
   * after a late attempt that queues the ticket again.
   */
  serialize<T>(
    name: string,
    ticket: string,
    operation: () => Promise<T>,
    kind: 'acquire' | 'withdraw',
  ): Promise<T> {
    const key = entryKey(name, ticket);
    const seq = (this.#latest.get(key) ?? 0) + 1;
    if (kind === 'acquire') this.#latest.set(key, seq);
    const run = (this.#chains.get(key) ?? Promise.resolve()).then(() => {
      // An acquire whose turn comes after a newer one of the same call was queued: its
      // caller gave up on it (timed out) and sent that one. Not sent, so nothing queues a
      // backlog of stale attempts that would each be granted and handed back.
      if (kind === 'acquire' && this.#latest.get(key) !== seq)
        throw new StoreUnavailableError(
          'etcd: a newer attempt of the same waiting call superseded this one before it was sent',
          { ambiguous: false },
        );
      return operation();
    });
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(key, settled);
    void settled.then(() => {
      if (this.#chains.get(key) !== settled) return;
      this.#chains.delete(key);
      this.#latest.delete(key);
    });
    return run;
  }

  /** A refused attempt queued `ticket` on its etcd lease `leaseId`: the lease of its previous attempt is revoked. */
  queued(name: string, ticket: string, leaseId: string, ttlMs: number): void {
    const before = this.#tickets.queued(name, ticket, leaseId, ttlMs);
    if (before !== undefined) this.#deps.revoke(before);
  }

  /** `ticket` was granted on etcd lease `leaseId` (its key deleted): the lease it was queued on before is revoked. */
  granted(name: string, ticket: string, leaseId: string): void {
    const before = this.#tickets.take(name, ticket);
    if (before !== undefined && before !== leaseId) this.#deps.revoke(before);
  }

  /**
   * The waiting call with `ticket` gave up: its ticket leaves the queue (its
   * etcd lease is revoked) and, if the name is vacant, the waiters' watch of
   * the turn key wakes the ticket now at the head.
   */
  withdraw(name: string, ticket: string): Promise<void> {
    return this.serialize(
      name,
      ticket,
      async () => {
        const { client, keys, run, call, revoke } = this.#deps;
        const leaseId = this.#tickets.take(name, ticket);
        const turnKey = keys.turn(name);
        const txn = await run('withdraw', name, () =>
          client.kv.txn(withdrawTxn(keys.lease(name), keys.ticket(name, ticket), turnKey), call()),
        );
        if (leaseId !== undefined) revoke(leaseId);
        // The turn key was written (the name is vacant): its put woke the watchers; remove it.
        if (txn.succeeded)
          await run('withdraw', name, () => client.kv.deleteRange({ key: turnKey }, call()));
      },
      'withdraw',
    );
  }

  /** How long the queued ticket in `kv` lives at most: its etcd lease's time to live. */
  async lifeMs(kv: IKeyValue, name: string): Promise<number> {
    const { client, run, call } = this.#deps;
    const ttl = await run('acquire', name, () =>
      client.leaseClient.leaseTimeToLive({ ID: kv.lease }, call()),
    );
    const seconds = Number(ttl.TTL);
    return seconds < 0 ? EXPIRY_PENDING_MS : Math.min(seconds * 1000 + 999, ticketLifeMs(kv));
  }

  /**
   * A waiting subscription (`SubscribeOptions.waiting`): a release is
   * reported with the ticket at the head of the queue (`next`), read after
   * the event, and a withdrawal that left the name vacant (a put of the turn
   * key) is reported as a release too. Resolves once both watches are up.
   */
  async subscribe(name: string, listener: WatchListener): Promise<Unsubscribe> {
    const { hub, keys } = this.#deps;
    const turns = (event: LeaseEvent, detail?: LeaseEventDetail): void => {
      if (event !== 'released' || detail?.interrupted === true) {
        listener(event, detail);
        return;
      }
      this.#nextTurn(name)
        .then(
          (turn) => listener('released', { ...detail, ...turn }),
          () => listener('released', detail),
        )
        .catch(() => undefined); // a listener's failure is its own (the hub isolates it likewise)
    };
    const [lease, turn] = await Promise.allSettled([
      hub.add(keys.lease(name), turns),
      // A put of the turn key (a withdrawal); its deletion (the revoke right after) says nothing.
      hub.add(keys.turn(name), (event, detail) => {
        if (event !== 'released') turns('released', detail);
      }),
    ]);
    if (lease.status === 'rejected' || turn.status === 'rejected') {
      if (lease.status === 'fulfilled') lease.value();
      if (turn.status === 'fulfilled') turn.value();
      throw lease.status === 'rejected' ? lease.reason : (turn as PromiseRejectedResult).reason;
    }
    return () => {
      lease.value();
      turn.value();
    };
  }

  /**
   * The store closes: each ticket's etcd lease is revoked once its operations
   * in flight are over (a lease an attempt may still be granted on is not
   * touched before), so a call that stops waiting leaves no ticket behind.
   * Resolves when done, or after `boundMs`. `revoke` must work after the
   * store closed (the application closes the client next).
   */
  async close(revoke: (leaseId: string) => Promise<unknown>, boundMs: number): Promise<void> {
    const keys = new Set([...this.#tickets.keys(), ...this.#chains.keys()]);
    const done = Promise.all(
      [...keys].map(async (key) => {
        await this.#chains.get(key);
        const leaseId = this.#tickets.takeKey(key);
        if (leaseId !== undefined) await revoke(leaseId).catch(() => undefined);
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, boundMs);
      timer.unref();
    });
    await Promise.race([done, bound]);
    clearTimeout(timer);
  }

  /** The ticket at the head of `name`'s queue and how long it lives at most; `{}` when none. */
  async #nextTurn(name: string): Promise<Pick<LeaseEventDetail, 'next' | 'nextLifeMs'>> {
    const { client, keys, run, call } = this.#deps;
    const r = await run('read', name, () => client.kv.range(headRange(keys.queue(name)), call()));
    const first = r.kvs[0];
    if (!first) return {};
    return { next: keys.ticketOf(name, first.key), nextLifeMs: ticketLifeMs(first) };
  }
}

/**
 * How long the ticket in `kv` lives at most without another attempt: its
 * etcd lease's ttl as granted (whole seconds, rounded up from its `ttlMs`).
 * A value tenure did not write counts as one second.
 */
export function ticketLifeMs(kv: IKeyValue): number {
  try {
    const parsed = JSON.parse(kv.value.toString('utf8')) as { ttlMs?: unknown } | null;
    const ttlMs = parsed?.ttlMs;
    if (typeof ttlMs === 'number' && ttlMs > 0) return Math.ceil(ttlMs / 1000) * 1000;
  } catch {
    // not ours: fall through
  }
  return 1000;
}

/**
 * withdraw: take the ticket out of the queue. If the name is vacant, also
 * write the turn key (deleted right after, see `WaitQueue.withdraw`): the
 * next ticket may be waiting for this one.
 */
export function withdrawTxn(leaseKey: Buffer, ticketKey: Buffer, turnKey: Buffer): ITxnRequest {
  const remove = { request_delete_range: { key: ticketKey } };
  return {
    compare: [{ key: leaseKey, target: 'Create', result: 'Equal', create_revision: 0 }],
    success: [remove, { request_put: { key: turnKey, value: Buffer.from('withdrawn') } }],
    failure: [remove],
  };
}

interface Queued {
  readonly leaseId: string;
  /** Monotonic time after which etcd has surely dropped the ticket. */
  readonly until: number;
}

/** How long past its etcd ttl a ticket is remembered without another attempt. */
const SWEEP_MARGIN_MS = 60_000;

/**
 * Which etcd lease each ticket queued by this store sits on, so the lease of
 * an earlier attempt is revoked once the ticket moved to a newer one, and a
 * withdrawal or grant revokes the last. Entries of calls that vanished
 * without either are swept once surely expired.
 */
class QueuedTickets {
  readonly #queued = new Map<string, Queued>();
  #sweepAt = 256;

  /** The ticket now sits on `leaseId`; returns the lease it sat on before, if another. */
  queued(name: string, ticket: string, leaseId: string, ttlMs: number): string | undefined {
    const key = entryKey(name, ticket);
    const before = this.#queued.get(key)?.leaseId;
    this.#queued.set(key, {
      leaseId,
      until: performance.now() + Math.ceil(ttlMs / 1000) * 1000 + SWEEP_MARGIN_MS,
    });
    if (this.#queued.size >= this.#sweepAt) {
      const now = performance.now();
      for (const [k, q] of this.#queued) if (q.until < now) this.#queued.delete(k);
      this.#sweepAt = Math.max(256, 2 * this.#queued.size);
    }
    return before === leaseId ? undefined : before;
  }

  /** Forgets the ticket (granted or withdrawn); returns the lease it sat on. */
  take(name: string, ticket: string): string | undefined {
    return this.takeKey(entryKey(name, ticket));
  }

  /** Every ticket remembered, by its entry key. */
  keys(): string[] {
    return [...this.#queued.keys()];
  }

  /** As `take`, by entry key. */
  takeKey(key: string): string | undefined {
    const leaseId = this.#queued.get(key)?.leaseId;
    this.#queued.delete(key);
    return leaseId;
  }
}

function entryKey(name: string, ticket: string): string {
  return `${name}\u0000${ticket}`;
}
