/**
 * Claim 5: retries with backoff (retryMs doubling to 30 s), a permanent error is reported once
 * and not retried, ready settles within timeoutMs, close stops the retries.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../../src/errors.js';
import type { LeaseStore, Unsubscribe } from '../../src/lock/lease-store.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { WakeSubscription } from '../../src/lock/wake-subscription.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { delegatingStore } from '../helpers/delegating-store.js';

function failing(clock: FakeClock, fail: (n: number) => unknown, hang = false) {
  const memory = new MemoryLeaseStore({ clock });
  const at: number[] = [];
  const store: LeaseStore = delegatingStore(memory, {
    subscribe: (n, l): Promise<Unsubscribe> => {
      at.push(clock.now());
      if (hang) return new Promise(() => undefined);
      const e = fail(at.length);
      return e ? Promise.reject(e) : memory.subscribe(n, l);
    },
  });
  return { store, at };
}

describe('WakeSubscription retry policy', () => {
  it('backs off 100, 200, 400, ... and stops after success', async () => {
    const clock = new FakeClock();
    const f = failing(clock, (n) =>
      n <= 5 ? new StoreUnavailableError('x', { ambiguous: true }) : null,
    );
    const errors: unknown[] = [];
    const sub = new WakeSubscription(f.store, 'n', {
      clock,
      timeoutMs: 50,
      retryMs: 100,
      onError: (e) => errors.push(e),
    });
    expect(await sub.ready).toBe(false);
    await clock.advance(10_000);
    const gaps = f.at.slice(1).map((t, i) => t - (f.at[i] as number));
    expect(gaps).toEqual([100, 200, 400, 800, 1600]);
    expect(errors).toHaveLength(5);
    sub.close();
    expect(clock.pending).toBe(0);
  });

  it('a hanging subscribe: ready is false after timeoutMs; retried with backoff; capped at 30 s', async () => {
    const clock = new FakeClock();
    const f = failing(clock, () => null, true);
    const sub = new WakeSubscription(f.store, 'n', { clock, timeoutMs: 50, retryMs: 10_000 });
    let ready: boolean | undefined;
    void sub.ready.then((r) => (ready = r));
    await clock.advance(50);
    expect(ready).toBe(false);
    await clock.advance(200_000);
    const gaps = f.at.slice(1).map((t, i) => t - (f.at[i] as number));
    expect(gaps.slice(0, 5)).toEqual([10_050, 20_050, 30_050, 30_050, 30_050]);
    sub.close();
  });

  it('a permanent error is reported once and not retried', async () => {
    const clock = new FakeClock();
    const f = failing(clock, () => new ConfigurationError('subscriber mode'));
    const errors: unknown[] = [];
    const sub = new WakeSubscription(f.store, 'n', {
      clock,
      timeoutMs: 50,
      retryMs: 100,
      onError: (e) => errors.push(e),
    });
    expect(await sub.ready).toBe(false);
    await clock.advance(60_000);
    expect({ attempts: f.at.length, errors: errors.length, pending: clock.pending }).toEqual({
      attempts: 1,
      errors: 1,
      pending: 0,
    });
    sub.close();
    await settle();
  });
});
