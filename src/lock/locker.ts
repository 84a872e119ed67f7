/**
 * The lock API over any {@link LeaseStore}: `lock` (wait and retry),
 * `tryLock` (one attempt), `withLock` (scoped), `get` (read without
 * acquiring) and `watch` (holder changes, including vacancy).
 *
 * Waiting is informed, not blind: a failed attempt learns the holder's
 * remaining ttl and sleeps until then (plus jitter), and a release
 * notification wakes waiters at once. Only store failures fall back to
 * `retryMs`. See `lease-keeper.ts` for what validity means.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  ConfigurationError,
  LockLostError,
  LockNotAcquiredError,
  StoreClosedError,
  StoreError,
} from '../errors.js';
import { abortable } from '../internal/abortable.js';
import { type Clock, systemClock } from '../internal/clock.js';
import { defaultIdentity, jitter } from '../internal/random.js';
import { withTimeout } from '../internal/timeout.js';
import {
  MAX_TIMER_MS,
  abortSignal,
  func,
  integer,
  ownOptions,
  text,
} from '../internal/validate.js';
import { wait } from '../internal/wait.js';
import { attemptAcquire } from './acquire.js';
import { decodeData, type JsonValue } from './data.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { LeaseEventDetail, LeaseHolder, LeaseRef, LeaseStore } from './lease-store.js';
import type { OwnershipToken } from './ownership-token.js';
import { Lock } from './lock.js';
import { type LockOptions, type ResolvedLockOptions, resolveLockOptions } from './lock-options.js';
import { type Waiter, WaiterGroups } from './waiters.js';
import { isPermanent } from './error-kinds.js';
import { watchHolders } from './watch.js';

export interface LockerOptions {
  /** Informational identity stored with each lease. @default `${hostname}:${pid}:${random}` */
  identity?: string;
  /** Timeout for `get()` and the reads of `watch()`. @default 5000 */
  requestTimeoutMs?: number;
  /** Monotonic clock and timers (tests inject a fake one). @default performance.now() */
  clock?: Clock;
}

/** What anyone can read about a lock's current holder. */
export interface LockInfo {
  readonly identity: string;
  /** The holder's term (its fencing token). */
  readonly term: number;
  readonly data: JsonValue | undefined;
  /** Time to expiry according to the store when it answered, in ms. */
  readonly remainingMs: number;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Safety re-read interval while vacant. @default 5000 */
  pollMs?: number;
  /** Called with transient read failures; the watch keeps going. */
  onError?: (error: unknown) => void;
}

/** Upper bound of the random delay before a notified waiter retries (within the hand-off window). */
const WAKE_JITTER_MS = 3;

type Attempt =
  { lock: Lock } | { lock: null; holder: LeaseHolder | null; reservedMs?: number | undefined };

export class Locker {
  readonly #store: LeaseStore;
  readonly #clock: Clock;
  readonly identity: string;
  readonly #requestTimeoutMs: number;
  readonly #waiters: WaiterGroups;
  /** Acquisitions abandoned by an abort while in flight, and the hand-backs of their late grants. */
  readonly #abandoned = new Set<Promise<unknown>>();

  constructor(store: LeaseStore, options?: LockerOptions) {
    if (
      typeof store !== 'object' ||
      store === null ||
      typeof (store as Partial<LeaseStore>).acquire !== 'function'
    ) {
      throw new TypeError(
        'Expected `store` to be a LeaseStore (RedisLeaseStore, MemoryLeaseStore, ...)',
      );
    }
    const o = ownOptions('options', options, ['identity', 'requestTimeoutMs', 'clock']);
    this.#store = store;
    this.identity =
      o['identity'] === undefined ? defaultIdentity() : text('identity', o['identity'], 128);
    this.#requestTimeoutMs = integer(
      'requestTimeoutMs',
      o['requestTimeoutMs'] ?? 5000,
      1,
      MAX_TIMER_MS,
    );
    this.#clock = (o['clock'] as Clock | undefined) ?? systemClock;
    this.#waiters = new WaiterGroups(store, {
      clock: this.#clock,
      timeoutMs: this.#requestTimeoutMs,
    });
  }

  /** One attempt: the lock, or `null` if someone else holds it. Store errors reject. */
  async tryLock(name: string, options?: LockOptions): Promise<Lock | null> {
    checkName(name);
    const opts = resolveLockOptions(options);
    const { lock } = await this.#attempt(name, opts);
    if (lock === null || lock.isValid) return lock;
    // Used up by a stall before the hand-out (see lock()): given back, reported as not granted.
    void lock.release().catch(() => false);
    return null;
  }

  /**
   * Resolves once every acquisition that an abort left in flight has settled,
   * and every grant that arrived after its abort has been released. Await it
   * before closing the store's client after aborting `lock()`: a release
   * still on its way when the connection closes is lost, and the name stays
   * held until its ttl runs out.
   */
  async settled(): Promise<void> {
    while (this.#abandoned.size > 0) await Promise.allSettled([...this.#abandoned]);
  }

  #abandon(work: Promise<unknown>): void {
    const done: Promise<unknown> = work.then(
      () => undefined,
      () => undefined,
    );
    this.#abandoned.add(done);
    void done.finally(() => this.#abandoned.delete(done));
  }

  /**
   * Acquires, waiting for the holder to release or expire. Rejects with
   * `LockNotAcquiredError` after `retryLimit` retries, with the signal's
   * reason on abort, and at once on errors retrying cannot fix (key conflict,
   * permissions, cluster misconfiguration).
   */
  async lock(name: string, options?: LockOptions): Promise<Lock> {
    checkName(name);
    const opts = resolveLockOptions(options);
    opts.signal?.throwIfAborted();
    let wake: ((afterMs?: number) => void) | undefined;
    // On a store with a FIFO queue (it can withdraw a ticket), this call waits in it under
    // one ticket for all its attempts, and a release names whose turn it is.
    const ticket = typeof this.#store.withdraw === 'function' ? newTicket() : undefined;
    // Woken by a release (this Locker's waiters for the name take turns, see waiters.ts).
    // Named by the queue, or alone (only our own subscription): retry at once. Otherwise
    // retry after a random 0–WAKE_JITTER_MS: Redis delivers to subscribers in a fixed
    // order, which would otherwise pick the same winners across processes.
    const me: Waiter = {
      pending: false,
      ...(ticket === undefined ? {} : { ticket }),
      wake: (detail) =>
        wake?.(
          detail?.subscribers === 1 || (ticket !== undefined && detail?.next === ticket)
            ? 0
            : jitter(Math.min(opts.retryJitterMs, WAKE_JITTER_MS)),
        ),
      defer: (ms) => {
        const afterMs = ms + 1 + jitter(opts.retryJitterMs);
        if (wake) wake(afterMs);
        // Told while an attempt is in flight: the wait after it ends by then at the latest.
        else deferredUntil = Math.min(deferredUntil, this.#clock.now() + afterMs);
      },
      grant: (g) => {
        granted = g;
        wake?.(0);
      },
    };
    // A release may grant the lease straight to this call (a store with a FIFO queue), under
    // the token of any of its attempts: each attempt's token and send time, by SHA-1.
    let granted: NonNullable<LeaseEventDetail['granted']> | undefined;
    // A deferral (another ticket's turn, see Waiter.defer) that came while no wait was registered.
    let deferredUntil = Infinity;
    const sent = new Map<string, { token: OwnershipToken; sentAt: number }>();
    const onSend =
      ticket === undefined
        ? undefined
        : (token: OwnershipToken, sentAt: number): void => {
            sent.set(sha1(token.reveal()), { token, sentAt });
          };
    const earlierAttempt = (tokenSha1: string) => sent.get(tokenSha1);
    let acquired = false;
    // The ticket may be queued in the store: an attempt was refused, abandoned in flight
    // (abort), or failed in a way that may have been applied (ambiguous).
    let mayBeQueued = false;
    // With a ticket, the store's requests of this call not yet settled (an attempt that timed
    // out may still queue the ticket): a withdrawal waits for them.
    const requests = new Set<Promise<void>>();
    const onRequest = (request: Promise<unknown>): void => {
      const settled = request.then(
        () => undefined,
        () => undefined,
      );
      requests.add(settled);
      void settled.then(() => requests.delete(settled));
    };
    // Already subscribed to this name (other calls wait, or did a moment ago): join before
    // the first attempt, so a release right after it reaches this call.
    let leave: (() => void) | undefined = this.#waiters.joinIfActive(name, me);
    let lastError: unknown;
    // Refused at least once: from then on this call may take a hand-off reservation
    // (only a first attempt is kept out, so a releaser coming straight back queues behind waiters).
    let waiting = false;
    try {
      for (let attempt = 0; ; attempt++) {
        me.pending = false;
        if (granted !== undefined) {
          // Granted by a release while waiting: held since that attempt was sent, no round trip.
          const g = granted;
          granted = undefined;
          const earlier = sent.get(g.tokenSha1);
          if (earlier) {
            const lock = this.#lockFrom(
              { name, token: earlier.token, term: g.term },
              opts,
              earlier.sentAt,
            );
            if (lock.isValid) {
              acquired = true;
              return lock;
            }
            void lock.release().catch(() => false);
          }
        }
        let holder: LeaseHolder | null = null;
        let reservedMs: number | undefined;
        try {
          // An abort ends the call at once, even with a request in flight; a grant that
          // arrives after it is released, never returned.
          const attempt = this.#attempt(
            name,
            opts,
            waiting,
            ticket,
            onSend,
            earlierAttempt,
            ticket === undefined ? undefined : onRequest,
          );
          const result = await abortable(attempt, opts.signal, (late) => {
            if (late.lock) this.#abandon(late.lock.release().catch(() => false));
          }).catch((error: unknown) => {
            // Aborted with the request in flight: its outcome is still to come (see settled()).
            if (opts.signal?.aborted === true) {
              this.#abandon(attempt);
              mayBeQueued = true;
            }
            throw error;
          });
          if (result.lock) {
            // Handed out only while valid on the clock: a stall between the grant and here (an
            // event loop blocked by other code) can use up its validity, and its signal aborts
            // only when a timer runs. Such a grant is given back and the attempt counts as failed.
            if (result.lock.isValid) {
              acquired = true;
              return result.lock;
            }
            void result.lock.release().catch(() => false);
            throw new LockLostError(name, 'deadline');
          }
          holder = result.holder;
          reservedMs = result.reservedMs;
          waiting = true;
          mayBeQueued = true;
          lastError = undefined;
        } catch (error) {
          if (error instanceof StoreError && error.ambiguous) mayBeQueued = true;
          const expired = error instanceof LockLostError && error.reason === 'deadline';
          // A closed store never answers again: the call ends (a retry would only fail again).
          if (error instanceof StoreClosedError) throw error;
          if (!expired && (!(error instanceof StoreError) || isPermanent(error))) throw error;
          lastError = error;
        }
        if (attempt >= opts.retryLimit)
          throw new LockNotAcquiredError(name, attempt + 1, { cause: lastError });
        opts.signal?.throwIfAborted();
        if (leave === undefined && (holder || reservedMs !== undefined)) {
          // Subscribe only once contended (the uncontended path stays one round trip),
          // then retry at once so a release between the attempt and the subscription is not
          // missed. Not after a reservation without a queue: the retry, now `waiting`, would
          // take the reservation meant for earlier waiters. With a queue (a ticket) it cannot:
          // the oldest ticket still goes first.
          leave = await this.#waiters.join(name, me, opts.signal);
          if (holder || ticket !== undefined) continue;
        }
        // After a store failure wait the full retryMs, not woken by releases: one may be our
        // own hand-back of a grant that could not be replicated, and retrying at once would
        // grab the name again and again.
        const failed = lastError !== undefined;
        // A grant that arrived while no wait was registered (an attempt was in flight).
        if (granted !== undefined) continue;
        if (me.pending && !failed) continue;
        let delay =
          (holder
            ? this.#waiters.quietDelay(name, holder.remainingMs)
            : (reservedMs ?? opts.retryMs)) + jitter(opts.retryJitterMs);
        // A queued ticket lives ttlMs past each attempt: come back before it lapses.
        if (ticket !== undefined && waiting) delay = Math.min(delay, opts.timing.ttlMs / 2);
        if (deferredUntil !== Infinity) {
          delay = Math.min(delay, Math.max(0, deferredUntil - this.#clock.now()));
          deferredUntil = Infinity;
        }
        await wait(
          this.#clock,
          delay,
          opts.signal,
          failed
            ? undefined
            : (w) => {
                wake = w;
                return () => (wake = undefined);
              },
        );
      }
    } finally {
      leave?.();
      // Gave up (abort, retry limit, error) after queueing: leave the queue, so the next
      // waiter is not held up until this ticket expires. Tracked by settled().
      if (!acquired && mayBeQueued && ticket !== undefined)
        this.#withdraw(name, ticket, [...requests], opts.timing.requestTimeoutMs);
    }
  }

  /**
   * Withdraws `ticket` once `after` (the call's store requests still in
   * flight) have settled, or the call's `requestTimeoutMs` has passed, so a late attempt
   * does not queue the ticket again behind the withdrawal.
   */
  #withdraw(name: string, ticket: string, after: Promise<void>[], timeoutMs: number): void {
    const store = this.#store;
    const settled = withTimeout(Promise.all(after), timeoutMs, this.#clock, 'withdraw').catch(
      () => undefined,
    );
    this.#abandon(
      settled
        .then(() =>
          withTimeout(
            Promise.resolve().then(() => store.withdraw?.(name, ticket)),
            this.#requestTimeoutMs,
            this.#clock,
            'withdraw',
          ),
        )
        .catch(() => undefined),
    );
  }

  /**
   * Runs `fn` while holding the lock, then releases it. `fn` receives the
   * lock's signal (aborted if the lock is lost) and fencing token. If the lock
   * was lost before `fn` settled, rejects with that `LockLostError` even when
   * `fn` resolved: its work was not protected to the end.
   */
  async withLock<T>(
    name: string,
    options: LockOptions | undefined,
    fn: (signal: AbortSignal, term: number) => Promise<T> | T,
  ): Promise<T> {
    func('fn', fn);
    const lock = await this.lock(name, options);
    try {
      const result = await fn(lock.signal, lock.term);
      if (!lock.isValid) {
        const reason: unknown = lock.signal.reason;
        throw reason instanceof LockLostError ? reason : new LockLostError(name, 'deadline');
      }
      return result;
    } finally {
      await lock.release().catch(() => false);
    }
  }

  /** The current holder without acquiring; `null` when free. */
  async get(name: string): Promise<LockInfo | null> {
    checkName(name);
    const holder = await withTimeout(
      this.#store.read(name),
      this.#requestTimeoutMs,
      this.#clock,
      'read',
    );
    return holder && toInfo(holder);
  }

  /**
   * Every lock held now whose name starts with `prefix` (all when empty),
   * sorted by name, without acquiring: a snapshot for status pages (on Redis
   * a `SCAN` of the namespace). Rejects with `ConfigurationError` if the store
   * cannot list.
   */
  async list(prefix = ''): Promise<(LockInfo & { readonly name: string })[]> {
    if (prefix !== '') text('prefix', prefix, 200, true);
    if (typeof this.#store.list !== 'function')
      throw new ConfigurationError(`The ${this.#store.kind} store cannot list its leases`);
    const listed = await withTimeout(
      this.#store.list(prefix),
      this.#requestTimeoutMs,
      this.#clock,
      'list',
    );
    return listed.map((l) => ({ name: l.name, ...toInfo(l) }));
  }

  /** The current holder, then every change (new holder or `null` for vacancy) until `signal` aborts. */
  async *watch(name: string, options?: WatchOptions): AsyncGenerator<LockInfo | null> {
    checkName(name);
    const o = ownOptions('options', options, ['signal', 'pollMs', 'onError']);
    const settings = {
      clock: this.#clock,
      signal: abortSignal('signal', o['signal']),
      requestTimeoutMs: this.#requestTimeoutMs,
      retryMs: 200,
      pollMs: integer('pollMs', o['pollMs'] ?? 5000, 10, MAX_TIMER_MS),
      onError:
        o['onError'] === undefined
          ? undefined
          : func<(error: unknown) => void>('onError', o['onError']),
    };
    for await (const holder of watchHolders(this.#store, name, settings))
      yield holder && toInfo(holder);
  }

  async #attempt(
    name: string,
    opts: ResolvedLockOptions,
    waiting = false,
    ticket?: string,
    onSend?: (token: OwnershipToken, sentAt: number) => void,
    earlierAttempt?: (tokenSha1: string) => { token: OwnershipToken; sentAt: number } | undefined,
    onRequest?: (request: Promise<unknown>) => void,
  ): Promise<Attempt> {
    const { timing, data } = opts;
    const outcome = await attemptAcquire(this.#store, this.#clock, {
      name,
      identity: this.identity,
      data,
      timing,
      waiting,
      ticket,
      onSend,
      earlierAttempt,
      onRequest,
    });
    if (!outcome.granted)
      return { lock: null, holder: outcome.holder, reservedMs: outcome.reservedMs };
    return { lock: this.#lockFrom(outcome.lease, opts, outcome.sentAt) };
  }

  #lockFrom(lease: LeaseRef, opts: ResolvedLockOptions, sentAt: number): Lock {
    return new Lock(new LeaseKeeper(this.#store, this.#clock, lease, opts.timing, sentAt));
  }
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** A random FIFO-queue ticket for one `lock()` call (96 bits, 16 characters). */
function newTicket(): string {
  return randomBytes(12).toString('base64url');
}

function checkName(name: unknown): void {
  text('name', name, 200, true);
}

function toInfo(holder: LeaseHolder): LockInfo {
  return {
    identity: holder.identity,
    term: holder.term,
    data: decodeData(holder.data),
    remainingMs: holder.remainingMs,
  };
}
