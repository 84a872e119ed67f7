/**
 * Claim 5 (ready settles within timeoutMs, retried in the background) and README guarantee 4
 * ("Errors never escape from timers ... nothing becomes an unhandled rejection"):
 * watch()'s `onError` is user code handed straight to WakeSubscription. If it throws when a
 * subscribe attempt fails, WakeSubscription.#run rejects (unhandled) and `ready` never settles,
 * so the watch never yields and never retries.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import type { LeaseStore } from '../../src/lock/lease-store.js';
import { Locker } from '../../src/lock/locker.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { delegatingStore } from '../helpers/delegating-store.js';

const unhandled: unknown[] = [];
const onUnhandled = (r: unknown): void => void unhandled.push(r);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));

it('a throwing watch onError: no unhandled rejection, and the watch still yields the holder', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLeaseStore({ clock });
  const store: LeaseStore = delegatingStore(memory, {
    subscribe: () =>
      Promise.reject(new StoreUnavailableError('Connection is closed.', { ambiguous: true })),
  });
  const locker = new Locker(store, { clock });
  const controller = new AbortController();
  const seen: unknown[] = [];
  const iterating = (async () => {
    for await (const holder of locker.watch('a', {
      signal: controller.signal,
      onError: () => {
        throw new Error('my onError is buggy');
      },
    })) {
      seen.push(holder);
    }
  })().catch((e: Error) => seen.push(`threw: ${e.message}`));
  for (let i = 0; i < 5; i++) await settle();
  await clock.advance(6000);
  const result = { seen: [...seen], unhandled: unhandled.map(String) };
  controller.abort();
  await clock.advance(10);
  await iterating;
  expect(result).toEqual({ seen: [null], unhandled: [] });
});
