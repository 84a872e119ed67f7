/**
 * Publishing new data with a held lease (`Elector.updateData`,
 * `Lock.updateData`): same term, same expiry, observers see it; a follower
 * keeps it for its next term; an update answered `stolen` ends the lease.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { ConfigurationError, InvalidOptionError, StoppedError } from '../../src/errors.js';
import type { AcquireResult, LeaseStore } from '../../src/lock/lease-store.js';
import { Locker } from '../../src/lock/locker.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { delegatingStore } from '../helpers/delegating-store.js';

const timing = { ttlMs: 1000, renewMs: 250, retryMs: 50, retryJitterMs: 0 };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function elector(store: LeaseStore, identity: string, extra: object = {}): Elector {
  const e = new Elector({ store, election: 'job', identity, ...timing, ...extra });
  e.on('error', () => undefined);
  cleanup.push(() => e.stop());
  return e;
}

describe('Elector.updateData', () => {
  it('publishes under the same term: the leader, an observer and the store agree', async () => {
    const store = new MemoryLeaseStore();
    const observer = elector(store, 'observer', { campaign: false });
    const seen: unknown[] = [];
    observer.on('leader', (l) => seen.push(l && [l.term, l.data]));
    await observer.start();
    const a = elector(store, 'a', { data: { addr: 'x' } });
    const ownEvents: unknown[] = [];
    a.on('leader', (l) => ownEvents.push(l && [l.term, l.data]));
    await a.start();
    const term = a.term as number;
    expect(await a.updateData({ addr: 'y' })).toBe(true);
    expect(a.term).toBe(term);
    expect(a.leader).toMatchObject({ term, data: { addr: 'y' }, isSelf: true });
    expect(ownEvents).toEqual([
      [term, { addr: 'x' }],
      [term, { addr: 'y' }],
    ]);
    expect(await store.read('job')).toMatchObject({ term, data: '{"addr":"y"}' });
    await expect
      .poll(() => seen)
      .toEqual([
        [term, { addr: 'x' }],
        [term, { addr: 'y' }],
      ]);
    expect(a.history).toHaveLength(1);
    // The same data again is not a change.
    expect(await a.updateData({ addr: 'y' })).toBe(true);
    expect(ownEvents).toHaveLength(2);
  });

  it('as a follower resolves false and publishes the data with its next term', async () => {
    const store = new MemoryLeaseStore();
    const a = elector(store, 'a');
    const b = elector(store, 'b', { data: 'old' });
    await a.start();
    await b.start();
    expect(b.isLeader).toBe(false);
    expect(await b.updateData('new')).toBe(false);
    await a.stop();
    await expect.poll(() => b.isLeader).toBe(true);
    expect(await store.read('job')).toMatchObject({ identity: 'b', data: '"new"' });
  });

  it('called while the acquisition is in flight: the new term publishes the newer data', async () => {
    const inner = new MemoryLeaseStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let acquiring = false;
    const store = delegatingStore(inner, {
      acquire: async (request): Promise<AcquireResult> => {
        acquiring = true;
        await gate;
        return inner.acquire(request);
      },
    });
    const a = elector(store, 'a', { data: 1 });
    const started = a.start();
    await expect.poll(() => acquiring).toBe(true);
    expect(await a.updateData(2)).toBe(false); // not leading yet
    release();
    await started;
    await expect.poll(async () => (await inner.read('job'))?.data).toBe('2');
    expect(a.leader?.data).toBe(2);
  });

  it("concurrent calls apply in call order: the last call's data is what stays published", async () => {
    // A store that applies an update after a delay that shrinks call by call (as two requests
    // sent to different etcd members may apply in either order).
    const inner = new MemoryLeaseStore();
    let delay = 60;
    const store = delegatingStore(inner, {
      update: async (lease, data) => {
        const wait = (delay = Math.max(0, delay - 30));
        await new Promise((r) => setTimeout(r, wait));
        return inner.update(lease, data);
      },
    });
    const a = elector(store, 'a');
    await a.start();
    const results = await Promise.all([
      a.updateData('one'),
      a.updateData('two'),
      a.updateData('three'),
    ]);
    expect(results).toEqual([true, true, true]);
    expect((await inner.read('job'))?.data).toBe('"three"');
    expect(a.leader?.data).toBe('three');
  });

  it('rejects bad data, after stop(), and on a store without update()', async () => {
    const store = new MemoryLeaseStore();
    const a = elector(store, 'a');
    await a.start();
    await expect(a.updateData(() => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(a.updateData('x'.repeat(70_000))).rejects.toBeInstanceOf(InvalidOptionError);
    await a.stop();
    await expect(a.updateData(1)).rejects.toBeInstanceOf(StoppedError);

    const bare = delegatingStore(new MemoryLeaseStore());
    delete (bare as { update?: unknown }).update; // a custom store written before update() existed
    const b = elector(bare, 'b');
    await b.start();
    await expect(b.updateData(1)).rejects.toBeInstanceOf(ConfigurationError);
    expect(b.isLeader).toBe(true); // a store without update() costs nothing else
  });
});

describe('Lock.updateData', () => {
  it('publishes to watchers, and a lease found stolen on update ends the lock', async () => {
    const inner = new MemoryLeaseStore();
    let steal = false;
    const store = delegatingStore(inner, {
      update: (lease, data) => (steal ? Promise.resolve('stolen') : inner.update(lease, data)),
    });
    const locker = new Locker(store, { identity: 'me' });
    const controller = new AbortController();
    const seen: unknown[] = [];
    const watching = (async () => {
      for await (const info of locker.watch('l', { signal: controller.signal }))
        seen.push(info && [info.term, info.data]);
    })();
    await expect.poll(() => seen).toEqual([null]);
    const lock = await locker.lock('l', { ttlMs: 1000, data: { n: 1 } });
    await expect.poll(() => seen).toEqual([null, [lock.term, { n: 1 }]]);
    expect(await lock.updateData({ n: 2 })).toBe(true);
    await expect.poll(() => seen).toEqual([null, [lock.term, { n: 1 }], [lock.term, { n: 2 }]]);
    steal = true;
    expect(await lock.updateData({ n: 3 })).toBe(false);
    expect(lock.isValid).toBe(false);
    expect(lock.signal.aborted).toBe(true);
    expect((lock.signal.reason as { reason?: string }).reason).toBe('lost');
    controller.abort();
    await watching;
  });
});
