/**
 * Claim 7 (second half, and the waiting phases other than the acquire round trip):
 * lock({signal}) rejects promptly when aborted while joining the subscription (even a hanging
 * one) and while sleeping; the shared subscription is gone once the last waiter leaves.
 */
import { LINGER_MS } from '../../src/lock/waiters.js';
import { describe, expect, it } from 'vitest';
import type { LeaseStore, Unsubscribe } from '../../src/lock/lease-store.js';
import { Locker } from '../../src/lock/locker.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { delegatingStore } from '../helpers/delegating-store.js';

function counted(clock: FakeClock, hangFirst: number) {
  const memory = new MemoryLeaseStore({ clock });
  let live = 0;
  let calls = 0;
  const late: (() => void)[] = [];
  const subscribe = async (
    n: string,
    l: Parameters<LeaseStore['subscribe']>[1],
  ): Promise<Unsubscribe> => {
    const off = await memory.subscribe(n, l);
    live++;
    let done = false;
    return () => {
      if (!done) live--;
      done = true;
      off();
    };
  };
  const store: LeaseStore = delegatingStore(memory, {
    subscribe: (n, l) =>
      calls++ < hangFirst
        ? new Promise((resolve) => late.push(() => void subscribe(n, l).then(resolve)))
        : subscribe(n, l),
  });
  return { memory, store, live: () => live, answerLate: () => late.splice(0).forEach((f) => f()) };
}

describe('waiters', () => {
  it('abort while joining a hanging subscription rejects at once; nothing is left subscribed', async () => {
    const clock = new FakeClock();
    const s = counted(clock, 1);
    const locker = new Locker(s.store, { clock, requestTimeoutMs: 5000 });
    await s.memory.acquire({
      name: 'a',
      token: OwnershipToken.generate(),
      ttlMs: 60_000,
      identity: 'x',
      data: '',
    });
    const c = new AbortController();
    let outcome = 'pending';
    void locker.lock('a', { signal: c.signal }).then(
      () => (outcome = 'resolved'),
      () => (outcome = 'rejected'),
    );
    await settle();
    c.abort();
    await settle();
    expect(outcome).toBe('rejected');
    s.answerLate(); // the subscribe answers after everyone left
    await settle();
    await settle();
    expect(s.live()).toBe(0);
  });

  it('many waiters: aborted, exhausted (retryLimit) and winners; no subscription once all left', async () => {
    const clock = new FakeClock();
    const s = counted(clock, 0);
    const locker = new Locker(s.store, { clock });
    const holder = { name: 'a', token: OwnershipToken.generate(), term: 0 };
    const g = await s.memory.acquire({
      name: 'a',
      token: holder.token,
      ttlMs: 2000,
      identity: 'x',
      data: '',
    });
    if (g.acquired) holder.term = g.term;
    const controllers = Array.from({ length: 6 }, () => new AbortController());
    const results: string[] = [];
    const waiters = controllers.map((c, i) =>
      locker.lock('a', { signal: c.signal, ttlMs: 1000, retryLimit: i === 5 ? 1 : Infinity }).then(
        async (lock) => {
          results.push(`won ${i}`);
          await clock.advance(10);
          await lock.release();
        },
        (e: Error) => void results.push(`${e.name} ${i}`),
      ),
    );
    await clock.advance(50);
    expect(s.live()).toBe(1); // one shared subscription
    controllers[0]?.abort();
    controllers[1]?.abort();
    await clock.advance(10);
    await s.memory.release(holder); // wakes one waiter
    await clock.advance(3000);
    await Promise.all(waiters);
    expect(results.filter((r) => r.startsWith('won')).length).toBe(3);
    await clock.advance(LINGER_MS); // the subscription outlives the last waiter this long
    expect(s.live(), 'subscriptions left').toBe(0);
  });
});
