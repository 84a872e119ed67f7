/**
 * Keeps one acquired lease alive and decides, on the local monotonic clock,
 * how long it may be trusted. Shared by `Lock` and the `Elector`.
 *
 * Guarantees (given the assumptions in docs/safety.md: bounded clock-rate
 * difference between this process and the store, no server clock jump):
 * - Validity ends at `deadline = t_send + ttlMs - driftMs`, where `t_send` is
 *   read from the monotonic clock *before* the acquire/renew request that
 *   established it was handed to the store. The store cannot expire the lease
 *   earlier than `t_send + ttlMs` in its own time, so the holder stops
 *   trusting the lease before anyone else can take it over.
 * - `valid` and `remainingMs` are computed from the clock on every read, never
 *   cached: after an event-loop stall or SIGSTOP they are already false/0 on
 *   wake-up, before any timer has run.
 * - A renewal reply that arrives at or after the current deadline (or the one
 *   it would establish), or after the lease was given up, extends nothing: the
 *   keeper is then lost with reason `deadline`. Validity that ran out on the
 *   clock never comes back, even before any timer has run. Once lost, a keeper is
 *   never valid again (a new acquisition is a new keeper with a new term).
 * - A definite answer from the store (`expired`, `stolen`) or a definite
 *   refusal (read-only replica, key conflict: an error that is not
 *   `retryable`) ends validity at once. Any other failure (timeout, lost
 *   connection, `BUSY`, `LOADING`, an unknown error) is retried until the
 *   deadline.
 * - No error escapes from a timer, and the hooks cannot break the keeper:
 *   each hook call is isolated (a throw is ignored here; the owner guards
 *   and reports its own hooks), and runs after the keeper's own state for
 *   that step is settled.
 * Not guaranteed: that the work done under the lease stops in time. `signal`
 * aborts when a timer runs, which a blocked event loop delays; protect side
 * effects with the fencing token (the term) at the resource.
 */
import {
  ConfigurationError,
  LockLostError,
  type LossReason,
  StoreError,
  type TenureError,
} from '../errors.js';
import type { Clock, TimerHandle } from '../internal/clock.js';
import { isolate } from '../internal/guard.js';
import { withTimeout } from '../internal/timeout.js';
import { releaseQuietly } from './release-quietly.js';
import { isRetryable } from './error-kinds.js';
import type { LeaseRef, LeaseStore } from './lease-store.js';

export interface LeaseTiming {
  readonly ttlMs: number;
  /** Safety margin subtracted from the ttl: `ceil(driftFactor * ttlMs) + 2`. */
  readonly driftMs: number;
  /** Renew this long after the previous successful acquire/renew was sent. */
  readonly renewMs: number;
  /**
   * Renew up to this much earlier, at random (default 0): many leases taken
   * together (a batch of locks, a fleet started at once) would otherwise
   * renew in the same timer burst and stall the event loop. Earlier is always safe.
   */
  readonly renewJitterMs?: number;
  /** Delay before retrying a renewal that failed ambiguously. */
  readonly renewRetryMs: number;
  /** Per-request timeout, below `ttlMs - driftMs`. */
  readonly requestTimeoutMs: number;
}

export interface LeaseKeeperHooks {
  /** A renewal was confirmed in time; `deadline` is the new end of validity. */
  onRenewed?(info: { readonly deadline: number; readonly durationMs: number }): void;
  /** A renewal failed ambiguously; the lease stays valid until its deadline and renewal is retried. */
  onRenewFailed?(error: TenureError): void;
  /** Validity ended for a reason other than `release()`. Called once. */
  onLost?(error: LockLostError): void;
}

export function driftFor(ttlMs: number, driftFactor: number): number {
  return Math.ceil(driftFactor * ttlMs) + 2;
}

export class LeaseKeeper {
  readonly lease: LeaseRef;
  readonly #store: LeaseStore;
  readonly #clock: Clock;
  readonly #timing: LeaseTiming;
  readonly #hooks: LeaseKeeperHooks;
  // Created on first use of `signal`: most short locks are released without anyone reading it.
  #controller: AbortController | undefined;
  /** Set once validity ended (release or loss); never cleared. */
  #endedBy: { readonly reason: LossReason; readonly cause: unknown } | undefined;
  #lostError: LockLostError | undefined;
  #deadline: number;
  #renewTimer: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #inflight: Promise<void> | undefined;
  #released: Promise<boolean> | undefined;
  #updates: Promise<unknown> = Promise.resolve();

  /** `sentAt` is the monotonic time read before the acquire request was sent. */
  constructor(
    store: LeaseStore,
    clock: Clock,
    lease: LeaseRef,
    timing: LeaseTiming,
    sentAt: number,
    hooks: LeaseKeeperHooks = {},
  ) {
    this.#store = store;
    this.#clock = clock;
    this.lease = lease;
    this.#timing = timing;
    this.#hooks = hooks;
    this.#deadline = sentAt + timing.ttlMs - timing.driftMs;
    this.#scheduleRenew(sentAt + this.#refreshDelay() - clock.now());
  }

  get #ended(): boolean {
    return this.#endedBy !== undefined;
  }

  /** Aborted when the lease can no longer be trusted; the reason is a {@link LockLostError}. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#ended) this.#controller.abort(this.#error());
    }
    return this.#controller.signal;
  }

  /** Monotonic time at which validity ends (if not renewed). */
  get deadline(): number {
    return this.#deadline;
  }

  /** Computed now: not given up and the deadline has not passed. */
  get valid(): boolean {
    return !this.#ended && this.#clock.now() < this.#deadline;
  }

  /**
   * `valid`, and if the deadline has passed without the keeper having seen it
   * yet (its timer has not run: a stalled event loop), the loss now, reason
   * `deadline`: `signal` aborts and `onLost` runs before this returns. Called
   * before work of the lease starts (an event delivered, a task started), so
   * no work starts after the deadline with a signal that is not aborted.
   */
  confirm(): boolean {
    if (this.#ended) return false;
    if (this.#clock.now() < this.#deadline) return true;
    this.#lose('deadline');
    return false;
  }

  /** Why validity ended (`released` after `release()`), or undefined while it lasts. */
  get lossReason(): LossReason | undefined {
    return this.#endedBy?.reason;
  }

  /** The error behind a loss (a refusal, a failed renewal at the deadline), if there was one. */
  get lossCause(): unknown {
    return this.#endedBy?.cause;
  }

  /** Milliseconds of validity left, computed now; 0 once invalid. */
  get remainingMs(): number {
    return this.valid ? this.#deadline - this.#clock.now() : 0;
  }

  /**
   * Stops renewing, aborts `signal` (reason `released`), waits for a renewal in
   * flight, then compare-and-deletes the lease. Resolves `true` if the store
   * deleted it, `false` if it was no longer ours. Rejects with a
   * `StoreError` if the store could not be reached (the lease then expires
   * by its ttl). Idempotent: later calls return the first call's promise.
   */
  release(): Promise<boolean> {
    this.#released ??= this.#release();
    return this.#released;
  }

  /**
   * Replaces the data published with the lease (same term, same expiry).
   * Resolves `true` once the store confirmed it; `false` if the lease was
   * not valid any more, or turned out lost (`expired`/`stolen`: validity
   * then ends at once, reason `lost`). Rejects with a `StoreError` when the
   * store could not confirm it (the lease stays valid: a failed update
   * changes nothing about validity), and with a `ConfigurationError` when
   * the store has no `update()`.
   */
  update(data: string): Promise<boolean> {
    // One at a time, in call order: the store may apply concurrent requests in any order (etcd
    // sends each to a random member), and the last call's data must be the data that stays.
    const next = this.#updates.then(() => this.#update(data));
    this.#updates = next.catch(() => undefined);
    return next;
  }

  async #update(data: string): Promise<boolean> {
    const store = this.#store;
    if (typeof store.update !== 'function') {
      throw new ConfigurationError(
        `The ${store.kind} lease store has no update(): publishing new data needs a store that implements it`,
      );
    }
    if (!this.valid) return false;
    const result = await withTimeout(
      store.update(this.lease, data),
      this.#timing.requestTimeoutMs,
      this.#clock,
      'update',
    );
    if (result === 'updated') return this.valid;
    if (!this.#ended) this.#lose('lost');
    return false;
  }

  async #release(): Promise<boolean> {
    this.#end('released', undefined, false);
    await this.#inflight;
    return withTimeout(
      this.#store.release(this.lease),
      this.#timing.requestTimeoutMs,
      this.#clock,
      'release',
    );
  }

  /*
   * Timers: while the next renewal is due before the deadline (always, given
   * 2 × renewMs ≤ ttlMs − drift), the renew timer alone is armed. The
   * deadline timer is armed when a renewal starts and stays armed until one
   * succeeds, so `signal` aborts on time when renewals hang or fail. `valid`
   * never depends on either timer.
   */
  #scheduleRenew(delayMs: number): void {
    if (this.#ended) return;
    if (this.#clock.now() + delayMs >= this.#deadline) this.#armDeadline();
    this.#renewTimer = this.#clock.setTimeout(
      () => {
        this.#renewTimer = undefined;
        if (this.#ended) return;
        if (this.#clock.now() >= this.#deadline) {
          this.#lose('deadline');
          return;
        }
        this.#armDeadline();
        this.#inflight = this.#renew();
      },
      Math.max(0, delayMs),
    );
  }

  async #renew(): Promise<void> {
    const { ttlMs, driftMs, requestTimeoutMs, renewMs, renewRetryMs } = this.#timing;
    const sentAt = this.#clock.now();
    let result: Awaited<ReturnType<LeaseStore['renew']>>;
    try {
      result = await withTimeout(
        this.#store.renew(this.lease, ttlMs),
        requestTimeoutMs,
        this.#clock,
        'renew',
        (late) => {
          if (late === 'renewed' && this.#ended && !this.#released) this.#releaseQuietly();
        },
      );
    } catch (error) {
      if (this.#ended) return;
      if (this.#clock.now() >= this.#deadline) {
        this.#lose('deadline', error); // the deadline passed while it was in flight (a stall)
        return;
      }
      const failure =
        error instanceof StoreError
          ? error
          : new StoreError('Renewal failed', { cause: error, ambiguous: true });
      if (!isRetryable(failure)) {
        this.#lose('refused', failure);
        return;
      }
      this.#scheduleRenew(Math.min(renewRetryMs, renewMs));
      this.#notify(() => this.#hooks.onRenewFailed?.(failure));
      return;
    }
    if (this.#ended) {
      // Given up while the request was in flight: a success must not resurrect it.
      // (After release() the release itself follows; otherwise free the key now.)
      if (result === 'renewed' && !this.#released) this.#releaseQuietly();
      return;
    }
    if (result !== 'renewed') {
      this.#lose('lost');
      return;
    }
    const deadline = sentAt + ttlMs - driftMs;
    // Validity that ran out on the clock never comes back, even if this reply would extend it.
    if (this.#clock.now() >= Math.min(deadline, this.#deadline)) {
      this.#lose('deadline');
      return;
    }
    if (deadline > this.#deadline) this.#deadline = deadline;
    this.#disarmDeadline();
    const durationMs = this.#clock.now() - sentAt;
    this.#scheduleRenew(sentAt + this.#refreshDelay() - this.#clock.now());
    this.#notify(() => this.#hooks.onRenewed?.({ deadline, durationMs }));
  }

  #refreshDelay(): number {
    const { renewMs, renewJitterMs = 0 } = this.#timing;
    return renewJitterMs > 0 ? renewMs - Math.random() * renewJitterMs : renewMs;
  }

  #disarmDeadline(): void {
    if (this.#deadlineTimer !== undefined) this.#clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
  }

  #armDeadline(): void {
    this.#disarmDeadline();
    this.#deadlineTimer = this.#clock.setTimeout(
      () => {
        this.#deadlineTimer = undefined;
        if (this.#ended) return;
        if (this.#clock.now() < this.#deadline) this.#armDeadline();
        else this.#lose('deadline');
      },
      Math.max(0, this.#deadline - this.#clock.now()),
    );
  }

  #lose(reason: LossReason, cause?: unknown): void {
    this.#end(reason, cause, true);
  }

  #error(): LockLostError {
    const { reason, cause } = this.#endedBy ?? { reason: 'released' as const, cause: undefined };
    this.#lostError ??= new LockLostError(
      this.lease.name,
      reason,
      cause === undefined ? undefined : { cause },
    );
    return this.#lostError;
  }

  #end(reason: LossReason, cause: unknown, notify: boolean): void {
    if (this.#ended) return;
    this.#endedBy = { reason, cause };
    // Validity ends now even if the clock says otherwise.
    this.#deadline = Math.min(this.#deadline, this.#clock.now());
    if (this.#renewTimer !== undefined) this.#clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    this.#disarmDeadline();
    // Stop the work first, then tell the owner. (Without a signal handed out, nobody to stop.)
    this.#controller?.abort(this.#error());
    if (notify) this.#notify(() => this.#hooks.onLost?.(this.#error()));
  }

  /** Runs a hook after the keeper's state for this step is settled; a throw cannot undo that. */
  #notify(call: () => void): void {
    isolate(call, () => undefined);
  }

  /** Frees a lease we no longer trust but may still own, so others need not wait for its ttl. */
  #releaseQuietly(): void {
    releaseQuietly(this.#store, this.lease);
  }
}
