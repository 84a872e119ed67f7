/**
 * A store subscription for one name, with the one failure policy shared by
 * the Elector, the Locker's waiters and `watch()`:
 *
 * - **Bounded.** `ready` settles within `timeoutMs`: `true` once subscribed,
 *   `false` when the first attempt failed or timed out, or on close/abort. It
 *   never rejects and never hangs (an ioredis offline queue can hold a
 *   `SUBSCRIBE` forever).
 * - **Retried.** After a failure or timeout it subscribes again in the
 *   background, backing off from `retryMs` to 30 s, until it succeeds, the
 *   error is permanent (configuration, permissions: reported once), or it is
 *   closed. Meanwhile callers still wake at the holder's expiry.
 * - **Honours the caller's signal**: abort closes it.
 * - **No leak.** A subscription that answers after it timed out or after
 *   `close()` is unsubscribed at once; after `close()` no event is delivered
 *   and no timer is left. The callbacks (`onError`, `onEvent`) may throw:
 *   that is ignored and changes nothing here.
 */
import { StoreTimeoutError } from '../errors.js';
import type { Clock } from '../internal/clock.js';
import { isolate } from '../internal/guard.js';
import { wait } from '../internal/wait.js';
import { isPermanent } from './error-kinds.js';
import type { LeaseEvent, LeaseEventDetail, LeaseStore, Unsubscribe } from './lease-store.js';

export interface WakeSubscriptionSettings {
  readonly clock: Clock;
  /** Bound on each subscribe attempt. */
  readonly timeoutMs: number;
  /** First retry delay after a failed attempt; doubles up to 30 s. */
  readonly retryMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Subscribe failures (each attempt); the subscription keeps retrying unless permanent. */
  readonly onError?: ((error: unknown) => void) | undefined;
  /** Every notification, after `woken` is set. */
  readonly onEvent?: ((event: LeaseEvent, detail?: LeaseEventDetail) => void) | undefined;
  /** Whether `sleep()` and retry timers hold the process open. @default false */
  readonly keepAlive?: boolean;
  /** Whether an `updated` event (new data, same holder) wakes `sleep()`; `onEvent` hears it either way. @default false */
  readonly wakeOnUpdate?: boolean;
  /** Subscribe as a waiter with tickets only (see `SubscribeOptions.waiting`). @default false */
  readonly waiting?: boolean;
}

const MAX_RETRY_MS = 30_000;
/** Re-read interval of waiters and followers of a store that announces expiries (see `LeaseStore`). */
export const QUIET_POLL_MS = 30_000;

export class WakeSubscription {
  /** Settles once the first attempt is over (see the module comment). */
  readonly ready: Promise<boolean>;
  readonly #store: LeaseStore;
  readonly #name: string;
  readonly #s: WakeSubscriptionSettings;
  readonly #closer = new AbortController();
  #settleReady!: (subscribed: boolean) => void;
  #unsubscribe: Unsubscribe | undefined;
  #woken = false;
  /** The last event said notifications were interrupted: wake at expiries until the next real event. */
  #interrupted = false;
  #wake: (() => void) | undefined;

  constructor(store: LeaseStore, name: string, settings: WakeSubscriptionSettings) {
    this.#store = store;
    this.#name = name;
    this.#s = settings;
    this.ready = new Promise((resolve) => (this.#settleReady = resolve));
    const { signal } = settings;
    if (signal?.aborted) this.close();
    else {
      signal?.addEventListener('abort', this.#onAbort, { once: true });
      void this.#run();
    }
  }

  /** Whether the subscription is active now (subscribed, not closed). */
  get subscribed(): boolean {
    return this.#unsubscribe !== undefined && !this.#closer.signal.aborted;
  }

  /**
   * How long to sleep before re-reading a name whose holder expires in
   * `expiryMs`: that long, unless the store announces expiries and this
   * subscription is active, when a notification will come (then
   * `QUIET_POLL_MS` at least, as a safety net).
   */
  quietDelay(expiryMs: number): number {
    return this.#store.announcesExpiry === true && this.subscribed && !this.#interrupted
      ? Math.max(expiryMs, QUIET_POLL_MS)
      : expiryMs;
  }

  /** Whether a notification arrived since the last `reset()`. */
  get woken(): boolean {
    return this.#woken;
  }

  reset(): void {
    this.#woken = false;
  }

  /** Waits `ms`, ending early on a notification when `wakeable`; `false` once closed or aborted. */
  async sleep(ms: number, wakeable = true): Promise<boolean> {
    if (wakeable && this.#woken) return true;
    try {
      await wait(
        this.#s.clock,
        ms,
        this.#closer.signal,
        wakeable
          ? (w) => {
              this.#wake = w;
              return () => (this.#wake = undefined);
            }
          : undefined,
        this.#s.keepAlive ?? false,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Unsubscribes (now, or when a pending attempt answers). Idempotent. */
  close(): void {
    if (this.#closer.signal.aborted) return;
    this.#closer.abort();
    this.#s.signal?.removeEventListener('abort', this.#onAbort);
    this.#settleReady(false);
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    if (unsubscribe) quietly(unsubscribe);
  }

  readonly #onAbort = (): void => this.close();

  async #run(): Promise<void> {
    const { clock, retryMs, keepAlive = false } = this.#s;
    for (let delay = retryMs; !this.#closer.signal.aborted;) {
      const outcome = await this.#attempt();
      this.#settleReady(outcome === 'subscribed');
      if (outcome !== 'failed') return;
      try {
        await wait(clock, delay, this.#closer.signal, undefined, keepAlive);
      } catch {
        return;
      }
      delay = Math.min(delay * 2, Math.max(retryMs, MAX_RETRY_MS));
    }
  }

  /** One subscribe, bounded by `timeoutMs` and by `close()`; never rejects, leaves no timer. */
  #attempt(): Promise<'subscribed' | 'failed' | 'permanent'> {
    const { clock, timeoutMs } = this.#s;
    const closer = this.#closer.signal;
    if (closer.aborted) return Promise.resolve('permanent');
    const subscribing = Promise.resolve().then(() =>
      this.#s.waiting === true
        ? this.#store.subscribe(this.#name, this.#listener, { waiting: true })
        : this.#store.subscribe(this.#name, this.#listener),
    );
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: 'subscribed' | 'failed' | 'permanent'): void => {
        settled = true;
        clock.clearTimeout(timer);
        closer.removeEventListener('abort', onClose);
        resolve(outcome);
      };
      const onClose = (): void => finish('permanent');
      const timer = clock.setTimeout(() => {
        this.#report(new StoreTimeoutError('subscribe', timeoutMs));
        finish('failed');
      }, timeoutMs);
      closer.addEventListener('abort', onClose, { once: true });
      subscribing.then(
        (unsubscribe) => {
          // Answered after a timeout or close(): nobody will use it.
          if (settled || closer.aborted) quietly(unsubscribe);
          else {
            this.#unsubscribe = unsubscribe;
            finish('subscribed');
          }
        },
        (error: unknown) => {
          if (settled) return;
          this.#report(error);
          finish(isPermanent(error) ? 'permanent' : 'failed');
        },
      );
    });
  }

  /** Hands a failure to the caller's `onError`, whose own failure is ignored. */
  #report(error: unknown): void {
    const { onError } = this.#s;
    if (onError) isolate(() => onError(error), ignore);
  }

  readonly #listener = (event: LeaseEvent, detail?: LeaseEventDetail): void => {
    if (this.#closer.signal.aborted) return;
    this.#interrupted = detail?.interrupted === true;
    if (event !== 'updated' || this.#s.wakeOnUpdate) {
      this.#woken = true;
      this.#wake?.();
    }
    const { onEvent } = this.#s;
    if (onEvent) isolate(() => onEvent(event, detail), ignore);
  };
}

const ignore = (): void => undefined;

function quietly(unsubscribe: Unsubscribe): void {
  try {
    unsubscribe();
  } catch {
    // A custom store's unsubscribe failed: nothing more to do than stop listening.
  }
}
