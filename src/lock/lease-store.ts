/**
 * The lease-lock contract every backend implements (memory, Redis,
 * PostgreSQL, etcd). It knows how to hold a lease on a
 * store and nothing about elections or timing policy.
 *
 * Contract, for every implementation:
 * - Each operation is atomic. On a networked store it is one round trip.
 * - `acquire` grants only when nobody holds the name, and then issues a term
 *   (fencing token) strictly greater than every term issued before for that
 *   name, including after the store's term counter was lost or came back
 *   stale (a restore from an older snapshot, a fail-over to a lagging
 *   replica). Rule: issued term = max(counter + 1, the store's clock in
 *   microseconds), stored back in the counter. Assumes the store's clock does
 *   not step back by as much as a restart or fail-over takes.
 * - `renew` and `release` act only when the caller's ownership token matches
 *   (compare-and-act); `renew` never re-creates a missing lease.
 * - Fair hand-off (optional per store, `handoffMs`): a release that notified
 *   at least one subscriber leaves the name reserved for `handoffMs`. During
 *   the reservation only a caller that was already waiting for the name
 *   (`waiting: true`: it had been refused by the previous holder) is
 *   granted; anyone else is told to come back in `reservedMs`. `read` reports
 *   the name vacant. Without it, a holder that releases and re-acquires at
 *   once wins nearly every race against notified waiters, who then starve.
 *   A reservation holds no token: nobody can renew or release it, and it
 *   expires on its own, so it delays others by at most `handoffMs`.
 * - The store keeps no local notion of validity: callers measure it on their
 *   own monotonic clock from before the request was sent (see `LeaseKeeper`).
 * - Errors are `StoreError` subclasses; `ambiguous` says whether the
 *   operation may have been applied.
 */
import type { OwnershipToken } from './ownership-token.js';

/** What the store knows about the current holder of a name. */
export interface LeaseHolder {
  /** Informational identity of the holder (e.g. `host:pid:rand`). */
  readonly identity: string;
  /** Fencing token of the holder's acquisition. */
  readonly term: number;
  /** Opaque data published with the lease (may be empty). */
  readonly data: string;
  /** Time to expiry as reported by the store when it answered, in ms. */
  readonly remainingMs: number;
}

/** A current holder and the name it holds (see `LeaseStore.list`). */
export interface ListedLease extends LeaseHolder {
  readonly name: string;
}

/** A lease this process acquired. The token is the capability; keep it private. */
export interface LeaseRef {
  readonly name: string;
  readonly token: OwnershipToken;
  readonly term: number;
}

export interface AcquireRequest {
  readonly name: string;
  readonly token: OwnershipToken;
  readonly ttlMs: number;
  readonly identity: string;
  readonly data: string;
  /** The caller was refused by an earlier holder and is still waiting: it may take a reserved hand-off. */
  readonly waiting?: boolean;
  /**
   * Identifies one waiting call across its attempts (random, stable, at most
   * 64 characters). A store with a FIFO queue (Redis, etcd) queues a refused
   * ticket, grants a vacant name only to the oldest live ticket, keeps each
   * ticket alive for `ttlMs` after its latest attempt, and names that ticket
   * in the `released` event (`detail.next`). Stores without a queue ignore it.
   */
  readonly ticket?: string;
}

export type AcquireResult =
  | {
      readonly acquired: true;
      readonly term: number;
      /**
       * Set when a store with a FIFO queue had already granted this request's
       * ticket the lease directly (see `LeaseEventDetail.granted`), under the
       * token of one of the caller's earlier attempts: the SHA-1 (hex) of that
       * token. The lease is now extended by `ttlMs` from this request; the
       * request's own token does not hold it.
       */
      readonly grantedTokenSha1?: string;
    }
  | { readonly acquired: false; readonly holder: LeaseHolder }
  /** Just released and reserved for the callers that were waiting, for `reservedMs` more ms. */
  | { readonly acquired: false; readonly holder: null; readonly reservedMs: number };

/** `renewed`: extended. `expired`: no lease exists. `stolen`: someone else holds it now. */
export type RenewResult = 'renewed' | 'expired' | 'stolen';

/** `updated`: the data was replaced; the term and the expiry are unchanged. Otherwise as for renew. */
export type UpdateResult = 'updated' | 'expired' | 'stolen';

/**
 * Kinds of change a store announces for a name: a new holder, a release
 * (or, on stores that announce it, an expiry), and new data from the same
 * holder (`update`).
 */
export type LeaseEvent = 'acquired' | 'released' | 'updated';

export interface SubscribeOptions {
  /**
   * The subscriber only waits for its turn: every request it waits on carries
   * a ticket (`AcquireRequest.ticket`) and was made through this store. A
   * store with a FIFO queue may then deliver only what concerns those tickets
   * (Redis: the grant or turn of a ticket of this store, and a hint to the one
   * queued next; etcd: every event, a release naming the ticket queued next),
   * instead of every event of the name.
   */
  readonly waiting?: boolean;
}

/** What a store may add to an event. */
export interface LeaseEventDetail {
  /**
   * For `released`: how many subscriptions (connections, on Redis) the
   * release notified, when the store knows. 1 means only the listener's own:
   * no other process is waiting, so nobody needs to stagger retries.
   */
  readonly subscribers?: number;
  /**
   * Set on a `released` that is not a release: notifications were
   * interrupted (a lost connection), so the name may have changed unseen.
   * Listeners re-read as for a release.
   */
  readonly interrupted?: boolean;
  /**
   * For `released`, on a store with a FIFO queue: the ticket whose turn it
   * is (see `AcquireRequest.ticket`). Other waiters need not try.
   */
  readonly next?: string;
  /** With `next`: how long that ticket lives unless it attempts (others retry by then, in case it died). */
  readonly nextLifeMs?: number;
  /**
   * For `acquired`, on a store with a FIFO queue: a release granted the lease
   * directly to this ticket, under the token (SHA-1, hex) of the ticket's
   * latest attempt before the release, with this term. That attempt's send
   * time precedes the grant, so validity measured from it is safe.
   */
  readonly granted?: {
    readonly ticket: string;
    readonly term: number;
    readonly tokenSha1: string;
    /** The granted lease's ttl: other waiters come back by then, in case the grantee died. */
    readonly ttlMs: number;
  };
}

export type Unsubscribe = () => void;

export interface LeaseStore {
  /** Backend name for logs and metrics, e.g. `redis`, `memory`. */
  readonly kind: string;

  /**
   * Optional, `true` when the store also announces an expiry as `released`
   * and an active subscription never loses an event (etcd's watch resumes
   * from its last revision). Waiters and followers of such a store sleep on
   * notifications alone, re-reading only every 30 s, instead of waking at
   * each reported expiry of a holder that keeps renewing.
   */
  readonly announcesExpiry?: boolean;

  /** Grants the lease if it is vacant; otherwise says who holds it and for how long. */
  acquire(request: AcquireRequest): Promise<AcquireResult>;

  /** Extends the lease to `ttlMs` from now if `lease.token` still owns it. */
  renew(lease: LeaseRef, ttlMs: number): Promise<RenewResult>;

  /**
   * Replaces the data published with the lease if `lease.token` still owns
   * it, keeping its term and expiry, and notifies subscribers (`updated`).
   * Optional for custom stores; every built-in store has it.
   */
  update?(lease: LeaseRef, data: string): Promise<UpdateResult>;

  /** Deletes the lease if `lease.token` still owns it and notifies subscribers. Returns whether it did. */
  release(lease: LeaseRef): Promise<boolean>;

  /**
   * Optional, with a FIFO queue: the waiting call with `ticket` gave up; its
   * ticket leaves the queue, and if it was next, the following one is woken.
   */
  withdraw?(name: string, ticket: string): Promise<void>;

  /** The current holder, without acquiring. `null` when vacant. */
  read(name: string): Promise<LeaseHolder | null>;

  /**
   * Calls `listener` when the name is acquired or released (best effort: a
   * notification may be lost on reconnect, so watchers also wake at expiry).
   * Resolves once the subscription is active.
   */
  subscribe(
    name: string,
    listener: (event: LeaseEvent, detail?: LeaseEventDetail) => void,
    options?: SubscribeOptions,
  ): Promise<Unsubscribe>;

  /**
   * Optional: every name that starts with `prefix` and is held now, with its
   * holder, sorted by name. A snapshot read name by name, not one atomic
   * view: a lease acquired or released during the call may or may not be
   * listed. Hand-off reservations and expired leases are not listed.
   */
  list?(prefix: string): Promise<ListedLease[]>;

  /**
   * Optional: deployment problems worth a warning (e.g. replicas without
   * replication confirmation). Best effort; the Elector logs them at start.
   */
  diagnose?(): Promise<string[]>;

  /** Closes what the store itself opened. Never closes a client it was given. Idempotent. */
  close(): Promise<void>;
}
