/**
 * The `lock()` calls of one Locker that wait for the same name share one
 * store subscription, and a release wakes one of them (chosen at random),
 * not all: the others could only lose the race to it, and each lost race
 * is a round trip and a script on the server. With a hundred requests of one
 * service queued on a lock, a release costs one attempt instead of a hundred.
 *
 * Contract: while any member waits, a release is never left unused: if the
 * member it woke leaves (aborted, gave up) before attempting, the wake is
 * passed to another member. Waiters in other processes (or other Lockers)
 * are woken by their own subscription, as before.
 */
import type { LeaseEvent, LeaseEventDetail, LeaseStore, Unsubscribe } from './lease-store.js';

export interface Waiter {
  /** Called when this member should retry, with what the store said about the release. */
  wake(detail?: LeaseEventDetail): void;
  /** Whether it was woken and has not attempted since. */
  pending: boolean;
}

interface Group {
  readonly members: Set<Waiter>;
  readonly subscribed: Promise<Unsubscribe>;
}

export class WaiterGroups {
  readonly #store: LeaseStore;
  readonly #groups = new Map<string, Group>();

  constructor(store: LeaseStore) {
    this.#store = store;
  }

  /** Joins the waiters of `name`; resolves once the subscription is active. Returns `leave`. */
  async join(name: string, waiter: Waiter): Promise<() => void> {
    let group = this.#groups.get(name);
    if (!group) {
      const members = new Set<Waiter>();
      const subscribed = this.#store
        .subscribe(name, (event, detail) => this.#notify(members, event, detail))
        // Without notifications waiters still wake at the holder's expiry.
        .catch((): Unsubscribe => () => undefined);
      group = { members, subscribed };
      this.#groups.set(name, group);
    }
    group.members.add(waiter);
    await group.subscribed;
    const joined = group;
    return () => this.#leave(name, joined, waiter);
  }

  #notify(members: Set<Waiter>, event: LeaseEvent, detail?: LeaseEventDetail): void {
    if (event !== 'released') return;
    const idle = [...members].filter((m) => !m.pending);
    const chosen = idle[Math.floor(Math.random() * idle.length)];
    if (chosen) {
      chosen.pending = true;
      chosen.wake(detail);
    }
  }

  #leave(name: string, group: Group, waiter: Waiter): void {
    if (!group.members.delete(waiter)) return;
    // A wake this member did not use goes to another, so the release is not wasted.
    if (waiter.pending) this.#notify(group.members, 'released');
    if (group.members.size > 0) return;
    if (this.#groups.get(name) === group) this.#groups.delete(name);
    void group.subscribed.then((unsubscribe) => unsubscribe());
  }
}
