/**
 * Claim 5: "WakeSubscription ... close stops everything; no timer left after stop
 * (FakeClock.pending === 0 after stop())", and a late subscribe answer is unsubscribed.
 */
import { describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import type { LeaseStore, Unsubscribe } from '../../src/lock/lease-store.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { WakeSubscription } from '../../src/lock/wake-subscription.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { delegatingStore } from '../helpers/delegating-store.js';

/** A memory store whose subscribe() stays pending until the test answers it. */
function hangingSubscribe(clock: FakeClock) {
  const memory = new MemoryLeaseStore({ clock });
  const pending: ((u: Unsubscribe) => void)[] = [];
  let unsubscribed = 0;
  const store: LeaseStore = delegatingStore(memory, {
    subscribe: () => new Promise<Unsubscribe>((resolve) => pending.push(resolve)),
  });
  return {
    store,
    memory,
    answerAll: () => {
      for (const r of pending.splice(0)) r(() => void unsubscribed++);
    },
    unsubscribed: () => unsubscribed,
  };
}

describe('timers left behind by a pending subscribe', () => {
  it('WakeSubscription.close() while the first subscribe is pending leaves no timer', async () => {
    const clock = new FakeClock();
    const { store } = hangingSubscribe(clock);
    const sub = new WakeSubscription(store, 'n', { clock, timeoutMs: 1000, retryMs: 200 });
    await settle();
    sub.close();
    expect(await sub.ready).toBe(false);
    await settle();
    expect(clock.pending, 'timers still scheduled after close()').toBe(0);
  });

  it('Elector.stop() while its subscribe is pending leaves no timer', async () => {
    const clock = new FakeClock();
    const { store } = hangingSubscribe(clock);
    const elector = new Elector({
      store,
      clock,
      election: 'e',
      identity: 'a',
      ttlMs: 1000,
      renewMs: 250,
      retryMs: 200,
      retryJitterMs: 0,
    });
    void elector.start();
    await settle();
    let stopped = false;
    void elector.stop().then(() => (stopped = true));
    for (let i = 0; i < 20 && !stopped; i++) await settle();
    expect(stopped, 'stop() settled without time passing').toBe(true);
    expect(clock.pending, 'timers still scheduled after stop()').toBe(0);
  });

  it('a subscribe answered after close() is unsubscribed', async () => {
    const clock = new FakeClock();
    const h = hangingSubscribe(clock);
    const sub = new WakeSubscription(h.store, 'n', { clock, timeoutMs: 1000, retryMs: 200 });
    await settle();
    sub.close();
    h.answerAll();
    await settle();
    expect(h.unsubscribed()).toBe(1);
  });
});
