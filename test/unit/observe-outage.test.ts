/**
 * Claim 9: observe mode (campaign: false): start() resolves while the store is unreachable;
 * health recovers after an outage.
 */
import { describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { LeaseStore, Unsubscribe } from '../../src/lock/lease-store.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

type Mode = 'up' | 'reject' | 'hang';
function flaky(clock: FakeClock) {
  const memory = new MemoryLeaseStore({ clock });
  const state = { mode: 'reject' as Mode, live: 0 };
  const gate = <T>(fn: () => Promise<T>): Promise<T> =>
    state.mode === 'up'
      ? fn()
      : state.mode === 'hang'
        ? new Promise<T>(() => undefined)
        : Promise.reject(new StoreUnavailableError('connect ECONNREFUSED', { ambiguous: true }));
  const store: LeaseStore = {
    kind: 'flaky',
    acquire: (r) => gate(() => memory.acquire(r)),
    renew: (l, t) => gate(() => memory.renew(l, t)),
    release: (l) => gate(() => memory.release(l)),
    read: (n) => gate(() => memory.read(n)),
    subscribe: (n, l) =>
      gate(async (): Promise<Unsubscribe> => {
        const off = await memory.subscribe(n, l);
        state.live++;
        return () => {
          state.live--;
          off();
        };
      }),
    close: () => memory.close(),
  };
  return { memory, store, state };
}

for (const outage of ['reject', 'hang'] as const) {
  describe(`r7: observer, store ${outage === 'reject' ? 'refusing connections' : 'not answering'}`, () => {
    it('start() resolves during the outage; health goes unhealthy, then healthy again after it', async () => {
      const clock = new FakeClock();
      const { memory, store, state } = flaky(clock);
      state.mode = outage;
      const o = new Elector({
        store,
        clock,
        election: 'x',
        identity: 'obs',
        campaign: false,
        ttlMs: 1000,
        renewMs: 250,
        retryMs: 200,
        retryJitterMs: 0,
      });
      o.on('error', () => undefined);
      let started = false;
      void o.start().then(() => (started = true));
      await clock.advance(600); // subscribe bound (250) + read bound (250) + slack
      expect(started, 'start() resolved during the outage').toBe(true);
      await clock.advance(1500);
      expect(o.health().healthy, 'unhealthy after storeToleranceMs of failures').toBe(false);

      // The store comes back with a holder.
      state.mode = 'up';
      const token = OwnershipToken.generate();
      await memory.acquire({ name: 'x', token, ttlMs: 60_000, identity: 'holder', data: '' });
      await clock.advance(600);
      expect(o.leader?.identity, 'leader known after the outage').toBe('holder');
      expect(o.health(), 'healthy after the outage').toMatchObject({
        healthy: true,
        storeFailingForMs: null,
      });
      // stays healthy for a while (reads continue; the subscription is retried in the background)
      for (let i = 0; i < 20; i++) {
        await clock.advance(500);
        expect(o.health().healthy, `healthy at +${(i + 1) * 500} ms`).toBe(true);
      }
      expect(state.live, 'subscribed again after the outage').toBe(1);
      const stopping = o.stop();
      await clock.advance(1000);
      await stopping;
      await settle();
      expect(state.live, 'no subscription after stop()').toBe(0);
    });
  });
}
