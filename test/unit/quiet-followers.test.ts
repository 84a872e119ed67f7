/**
 * A store that announces expiries (`announcesExpiry`, etcd) lets followers,
 * waiters and watchers sleep on notifications instead of waking at every
 * reported expiry of a holder that keeps renewing; without an active
 * subscription they wake at the expiry as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { LeaseStore } from '../../src/lock/lease-store.js';
import { Locker } from '../../src/lock/locker.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { delegatingStore } from '../helpers/delegating-store.js';

const timing = { ttlMs: 200, renewMs: 50, retryMs: 50, retryJitterMs: 0 };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A view of `inner` that counts acquire and read calls, optionally announcing expiries or failing subscribe. */
function counted(inner: LeaseStore, options: { announces: boolean; subscribeFails?: boolean }) {
  const calls = { acquire: 0, read: 0 };
  const store: LeaseStore = {
    ...delegatingStore(inner, {
      acquire: (r) => {
        calls.acquire++;
        return inner.acquire(r);
      },
      read: (n) => {
        calls.read++;
        return inner.read(n);
      },
      ...(options.subscribeFails
        ? { subscribe: () => Promise.reject(new StoreUnavailableError('down')) }
        : {}),
    }),
    ...(options.announces ? { announcesExpiry: true } : {}),
  };
  return { store, calls };
}

async function followerAttempts(options: { announces: boolean; subscribeFails?: boolean }) {
  const inner = new MemoryLeaseStore();
  const leader = new Elector({ store: inner, election: 'q', identity: 'leader', ...timing });
  cleanup.push(() => leader.stop());
  await leader.start();
  const { store, calls } = counted(inner, options);
  const follower = new Elector({ store, election: 'q', identity: 'f', ...timing });
  follower.on('error', () => undefined);
  cleanup.push(() => follower.stop());
  await follower.start();
  await sleep(1000); // 5 ttls of a leader that keeps renewing
  return calls.acquire;
}

describe('followers of a store that announces expiries', () => {
  it('do not wake at each expiry of a renewing leader while subscribed', async () => {
    expect(await followerAttempts({ announces: true })).toBe(1);
  });

  it('wake at each reported expiry otherwise (no announcement, or no subscription)', async () => {
    expect(await followerAttempts({ announces: false })).toBeGreaterThanOrEqual(4);
    expect(
      await followerAttempts({ announces: true, subscribeFails: true }),
    ).toBeGreaterThanOrEqual(4);
  });

  it('a waiting lock() and a watch() sleep on notifications too, and still take over at release', async () => {
    const inner = new MemoryLeaseStore();
    const holder = await new Locker(inner).lock('l', { ttlMs: 200, renewMs: 50 });
    const { store, calls } = counted(inner, { announces: true });
    const locker = new Locker(store);
    const controller = new AbortController();
    const seen: (string | null)[] = [];
    const watching = (async () => {
      for await (const h of locker.watch('l', { signal: controller.signal }))
        seen.push(h ? String(h.term) : null);
    })();
    const waiting = locker.lock('l', { ttlMs: 200, retryMs: 50 });
    await sleep(1000);
    // Refused, subscribed, refused once more (a release in between is not missed), then asleep.
    expect(calls.acquire).toBe(2);
    expect(calls.read).toBe(1); // the watch read once
    await holder.release();
    const lock = await waiting;
    expect(lock.isValid).toBe(true);
    // Woken by the release: the watch reports the new holder (the vacancy may be too brief to see).
    await expect.poll(() => seen.at(-1)).toBe(String(lock.term));
    controller.abort();
    await watching;
    await lock.release();
  });
});
