/**
 * The `lock()` calls of one Locker that wait for the same name share one
 * store subscription, and a release wakes one of them (the one whose ticket
 * the store names, on a store with a FIFO queue; else one chosen at random),
 * not all: the others could only lose the race to it, and each lost race
 * is a round trip and a script on the server. With a hundred requests of one
 * service queued on a lock, a release costs one attempt instead of a hundred.
 *
 * Contract: while any member waits, a release is never left unused: if the
 * member it woke leaves (aborted, gave up) before attempting, the wake is
 * passed to another member. Waiters in other processes (or other Lockers)
 * are woken by their own subscription, as before.
 */
import { abortable } from '../internal/abortable.js';
import type { Clock, TimerHandle } from '../internal/clock.js';
import type { LeaseEvent, LeaseEventDetail, LeaseStore } from './lease-store.js';
import { WakeSubscription } from './wake-subscription.js';

export interface Waiter {
  /** Called when this member should retry, with what the store said about the release. */
  wake(detail?: LeaseEventDetail): void;
  /** Whether it was woken and has not attempted since. */
  pending: boolean;
  /** Its ticket in the store's FIFO queue, if the store keeps one (see `AcquireRequest.ticket`). */
  readonly ticket?: string;
  /** Another ticket's turn: retry within `ms` at the latest, in case that waiter died. */
  defer?(ms: number): void;
  /** A release granted this member's ticket the lease directly (see `LeaseEventDetail.granted`). */
  grant?(granted: NonNullable<LeaseEventDetail['granted']>): void;
}

interface Group {
  readonly members: Set<Waiter>;
  readonly subscription: WakeSubscription;
  /** Pending close after the last member left (see LINGER_MS). */
  linger?: TimerHandle | undefined;
}

export interface WaiterSettings {
  readonly clock: Clock;
  /** Bound on waiting for the subscription (see {@link WakeSubscription}). */
  readonly timeoutMs: number;
}

/** First delay before re-subscribing after a failed subscribe. */
const RESUBSCRIBE_MS = 200;
/**
 * How long a name's subscription outlives its last waiter. A service that
 * locks a contended name again and again joins the live subscription before
 * its first attempt (`joinIfActive`): no SUBSCRIBE/UNSUBSCRIBE per call, and
 * no extra attempt after subscribing. Unref'd: it never holds a process open.
 */
export const LINGER_MS = 2000;

export class WaiterGroups {
  readonly #store: LeaseStore;
  readonly #settings: WaiterSettings;
  readonly #groups = new Map<string, Group>();

  constructor(store: LeaseStore, settings: WaiterSettings) {
    this.#store = store;
    this.#settings = settings;
  }

  /** How long a waiter of `name` sleeps before retrying when the holder expires in `expiryMs` (see `WakeSubscription.quietDelay`). */
  quietDelay(name: string, expiryMs: number): number {
    return this.#groups.get(name)?.subscription.quietDelay(expiryMs) ?? expiryMs;
  }

  /**
   * Joins the waiters of `name` at once if their subscription is active now
   * (so every notification from now on reaches the member); otherwise
   * `undefined` and nothing changes. Returns `leave`.
   */
  joinIfActive(name: string, waiter: Waiter): (() => void) | undefined {
    const group = this.#groups.get(name);
    if (!group?.subscription.subscribed) return undefined;
    this.#keep(group);
    group.members.add(waiter);
    return () => this.#leave(name, group, waiter);
  }

  /**
   * Joins the waiters of `name`. Resolves once the subscription is active, or
   * once its first attempt failed or timed out (waiters then wake at the
   * holder's expiry while it is retried); rejects with the signal's reason
   * if `signal` aborts first (the member has then left). Returns `leave`.
   */
  async join(name: string, waiter: Waiter, signal?: AbortSignal): Promise<() => void> {
    let group = this.#groups.get(name);
    if (!group) {
      const members = new Set<Waiter>();
      const subscription = new WakeSubscription(this.#store, name, {
        clock: this.#settings.clock,
        timeoutMs: this.#settings.timeoutMs,
        retryMs: RESUBSCRIBE_MS,
        // Every member waits with a ticket when the store keeps a queue (see Locker.lock).
        waiting: typeof this.#store.withdraw === 'function',
        onEvent: (event, detail) => this.#notify(members, event, detail),
      });
      group = { members, subscription };
      this.#groups.set(name, group);
    }
    this.#keep(group);
    group.members.add(waiter);
    const joined = group;
    const leave = (): void => this.#leave(name, joined, waiter);
    try {
      await abortable(joined.subscription.ready, signal);
    } catch (error) {
      leave();
      throw error;
    }
    return leave;
  }

  #notify(members: Set<Waiter>, event: LeaseEvent, detail?: LeaseEventDetail): void {
    const granted = detail?.granted;
    if (event === 'acquired' && granted) {
      for (const m of members) {
        if (m.ticket === granted.ticket) m.grant?.(granted);
        else m.defer?.(granted.ttlMs);
      }
      return;
    }
    if (event !== 'released') return;
    if (detail?.next !== undefined) {
      // A store with a FIFO queue named whose turn it is: that member; the others only make
      // sure to come back once that ticket would lapse, in case its waiter died.
      for (const m of members) {
        if (m.ticket === detail.next) {
          m.pending = true;
          m.wake(detail);
        } else if (detail.nextLifeMs !== undefined) m.defer?.(detail.nextLifeMs);
      }
      return;
    }
    const idle = [...members].filter((m) => !m.pending);
    const chosen = idle[Math.floor(Math.random() * idle.length)];
    if (chosen) {
      chosen.pending = true;
      chosen.wake(detail);
    }
  }

  #keep(group: Group): void {
    if (group.linger === undefined) return;
    this.#settings.clock.clearTimeout(group.linger);
    group.linger = undefined;
  }

  #leave(name: string, group: Group, waiter: Waiter): void {
    if (!group.members.delete(waiter)) return;
    // A wake this member did not use goes to another, so the release is not wasted.
    if (waiter.pending) this.#notify(group.members, 'released');
    if (group.members.size > 0 || group.linger !== undefined) return;
    const close = (): void => {
      group.linger = undefined;
      if (group.members.size > 0) return;
      if (this.#groups.get(name) === group) this.#groups.delete(name);
      group.subscription.close();
    };
    // A subscription that is not up (failed, retrying) is not worth keeping.
    if (!group.subscription.subscribed) close();
    else group.linger = this.#settings.clock.setTimeout(close, LINGER_MS);
  }
}
