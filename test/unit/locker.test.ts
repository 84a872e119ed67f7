import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  LockKeyConflictError,
  LockLostError,
  StoreUnavailableError,
} from '../../src/errors.js';
import type { AcquireResult } from '../../src/lock/lease-store.js';
import type { Lock } from '../../src/lock/lock.js';
import { Locker } from '../../src/lock/locker.js';
import { type Waiter, WaiterGroups } from '../../src/lock/waiters.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { delegatingStore } from '../helpers/delegating-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

function memory() {
  const clock = new FakeClock();
  const store = new MemoryLeaseStore({ clock });
  return { clock, store, locker: new Locker(store, { clock, identity: 'me' }) };
}

/** Someone else holds `name` for `ttlMs` and never renews (a crashed holder). */
async function crashedHolder(store: MemoryLeaseStore, name: string, ttlMs: number) {
  const token = OwnershipToken.generate();
  const r = await store.acquire({ name, token, ttlMs, identity: 'crashed', data: '' });
  if (!r.acquired) throw new Error('setup failed');
  return { name, token, term: r.term };
}

describe('Locker', () => {
  it('tryLock returns null while another holds the lock, and the lock with a token once free', async () => {
    const { store, locker } = memory();
    const held = await crashedHolder(store, 'a', 1000);
    expect(await locker.tryLock('a')).toBeNull();
    await store.release(held);
    const lock = await locker.tryLock('a');
    expect(lock?.term).toBeGreaterThan(held.term);
    await lock?.release();
  });

  it('keeps a held lock alive by refreshing, for many ttls', async () => {
    const { clock, store, locker } = memory();
    const lock = await locker.lock('a', { ttlMs: 1000 });
    await clock.advance(10_000);
    expect(lock.isValid).toBe(true);
    expect((await store.read('a'))?.term).toBe(lock.term);
    await lock.release();
    expect(await store.read('a')).toBeNull();
    expect(clock.pending).toBe(0);
  });

  it('waits for a crashed holder exactly until its expiry (plus jitter), not before', async () => {
    const { clock, store, locker } = memory();
    await crashedHolder(store, 'a', 1000);
    let acquired = false;
    const pending = locker.lock('a', { retryJitterMs: 50 }).then((l) => {
      acquired = true;
      return l;
    });
    await clock.advance(990);
    expect(acquired).toBe(false);
    await clock.advance(70);
    expect(acquired).toBe(true);
    await (await pending).release();
  });

  it('wakes within 3 ms (random, so notified waiters do not always race in the same order) when the holder releases', async () => {
    const { clock, store, locker } = memory();
    const held = await crashedHolder(store, 'a', 60_000);
    let acquired = false;
    const pending = locker.lock('a').then((l) => ((acquired = true), l));
    await clock.advance(10);
    expect(acquired).toBe(false);
    await store.release(held);
    await settle();
    await clock.advance(3);
    await settle();
    expect(acquired).toBe(true);
    await (await pending).release();
  });

  it('wakes one of its waiters per release, not all of them, and each gets its turn', async () => {
    const { clock, store, locker } = memory();
    const held = await crashedHolder(store, 'a', 60_000);
    const attempts: string[] = [];
    const acquire = store.acquire.bind(store);
    store.acquire = (request) => {
      attempts.push(request.identity);
      return acquire(request);
    };
    const locks = Array.from({ length: 5 }, () => locker.lock('a'));
    const done = new Set<number>();
    const released = new Set<number>();
    locks.forEach((p, i) => void p.then(() => done.add(i)));
    await clock.advance(10);
    const joined = attempts.length; // each one: first attempt, then one more after subscribing
    expect(joined).toBe(10);
    await store.release(held);
    await settle();
    await clock.advance(3);
    expect(attempts.length - joined).toBe(1); // one waiter woke, not five
    expect(done.size).toBe(1);
    for (let turn = 2; turn <= 5; turn++) {
      const [index] = [...done].filter((i) => !released.has(i));
      released.add(index as number);
      await (await (locks[index as number] as Promise<Lock>)).release();
      await settle();
      await clock.advance(3);
      expect(done.size).toBe(turn);
    }
    expect(attempts.length - joined).toBe(4 + 1); // one attempt per release
    const [last] = [...done].filter((i) => !released.has(i));
    await (await (locks[last as number] as Promise<Lock>)).release();
  });

  it('passes an unused wake on when the woken waiter leaves before attempting', async () => {
    const { clock, store } = memory();
    const groups = new WaiterGroups(store, { clock, timeoutMs: 1000 });
    const woken: string[] = [];
    const member = (label: string): Waiter => ({ pending: false, wake: () => woken.push(label) });
    const a = member('a');
    const b = member('b');
    const leaveA = await groups.join('x', a);
    const leaveB = await groups.join('x', b);
    const held = await crashedHolder(store, 'x', 60_000);
    await store.release(held);
    await settle();
    expect(woken).toHaveLength(1); // one of the two
    const [first] = woken;
    (first === 'a' ? leaveA : leaveB)(); // it gives up without attempting
    expect(woken).toEqual([first, first === 'a' ? 'b' : 'a']); // the wake went to the other
    (first === 'a' ? leaveB : leaveA)();
    await clock.advance(60); // past the hand-off reservation the first release left
    const again = await crashedHolder(store, 'x', 60_000);
    await store.release(again);
    await settle();
    expect(woken).toHaveLength(2); // nobody left, and the subscription is gone
  });

  it('after a store failure waits the full retryMs, not woken by a release (no grab-and-hand-back loop)', async () => {
    const { clock, store, locker } = memory();
    const held = await crashedHolder(store, 'a', 60_000);
    const acquire = store.acquire.bind(store);
    let calls = 0;
    let failNext = false;
    store.acquire = (request) => {
      calls++;
      if (failNext) {
        failNext = false;
        return Promise.reject(new StoreUnavailableError('NOREPLICAS-like', { ambiguous: true }));
      }
      return acquire(request);
    };
    let acquired = false;
    const pending = locker
      .lock('a', { retryMs: 1000, retryJitterMs: 0 })
      .then((l) => ((acquired = true), l));
    await clock.advance(10); // refused twice (before and after subscribing), now sleeping
    expect(calls).toBe(2);
    failNext = true;
    await store.release(held); // wakes the waiter; its attempt fails
    await settle();
    await clock.advance(1);
    expect(calls).toBe(3);
    // Someone else takes the name briefly (past the reservation), then releases: that
    // notification must not cut the retry wait short.
    const token = OwnershipToken.generate();
    const other = await acquire({
      name: 'a',
      token,
      ttlMs: 60_000,
      identity: 'x',
      data: '',
      waiting: true,
    });
    if (!other.acquired) throw new Error('setup failed');
    await clock.advance(60);
    await store.release({ name: 'a', token, term: other.term });
    await settle();
    await clock.advance(100);
    expect(calls).toBe(3);
    await clock.advance(1000);
    expect(acquired).toBe(true);
    await (await pending).release();
  });

  it('gives up after retryLimit retries with LockNotAcquiredError', async () => {
    const { clock, store, locker } = memory();
    const holder = await new Locker(store, { clock }).lock('a', { ttlMs: 1000 }); // alive: keeps refreshing
    const pending = locker.lock('a', { retryLimit: 2 });
    const outcome = expect(pending).rejects.toMatchObject({
      code: 'TENURE_NOT_ACQUIRED',
      attempts: 3,
    });
    await clock.advance(5000);
    await outcome;
    expect(holder.isValid).toBe(true);
    await expect(locker.lock('a', { retryLimit: 0 })).rejects.toMatchObject({ attempts: 1 });
    await holder.release();
  });

  it('stops waiting when the signal aborts, with the signal reason', async () => {
    const { clock, store, locker } = memory();
    await crashedHolder(store, 'a', 60_000);
    const controller = new AbortController();
    const pending = locker.lock('a', { signal: controller.signal });
    const outcome = expect(pending).rejects.toThrow('stop waiting');
    await clock.advance(100);
    controller.abort(new Error('stop waiting'));
    await outcome;
  });

  it('throws a key conflict at once instead of retrying', async () => {
    const store = new ScriptedStore();
    const clock = new FakeClock();
    const locker = new Locker(store, { clock });
    const pending = locker.lock('a');
    store
      .pending('acquire')
      .reject(
        new LockKeyConflictError('{tenure:a}:lease', 'list', 'where tenure expects its own data'),
      );
    await expect(pending).rejects.toBeInstanceOf(LockKeyConflictError);
    expect(store.of('acquire')).toHaveLength(1);
  });

  it('retries store failures after retryMs', async () => {
    const store = new ScriptedStore();
    const clock = new FakeClock();
    const locker = new Locker(store, { clock });
    const pending = locker.lock('a', { retryMs: 100, retryJitterMs: 0, ttlMs: 1000 });
    store
      .pending('acquire')
      .reject(new StoreUnavailableError('Connection is closed.', { ambiguous: true }));
    await clock.advance(99);
    expect(store.of('acquire')).toHaveLength(1);
    await clock.advance(1);
    store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 5 });
    const lock = await pending;
    expect(lock.term).toBe(5);
  });

  it('releases a grant that arrives after the request timed out', async () => {
    const store = new ScriptedStore();
    const clock = new FakeClock();
    const locker = new Locker(store, { clock });
    const attempt = locker.tryLock('a', { ttlMs: 1000, requestTimeoutMs: 100 });
    const outcome = expect(attempt).rejects.toMatchObject({ code: 'TENURE_STORE_TIMEOUT' });
    await clock.advance(100);
    await outcome;
    store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 9 });
    await settle();
    expect(store.of('release')).toHaveLength(1);
    expect((store.of('release')[0]?.args[0] as { term: number }).term).toBe(9);
  });

  it('grants nothing when the grant arrives after its own deadline', async () => {
    const store = new ScriptedStore();
    const clock = new FakeClock();
    const locker = new Locker(store, { clock });
    const attempt = locker.tryLock('a', { ttlMs: 1000, requestTimeoutMs: 900 });
    clock.jump(1000); // stalled: the reply is read only after t_send + ttl − drift
    store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 3 });
    await expect(attempt).resolves.toBeNull();
    expect(store.of('release')).toHaveLength(1);
  });

  it('withLock passes signal and token, releases afterwards, and rethrows errors', async () => {
    const { store, locker } = memory();
    const result = await locker.withLock('a', undefined, (signal, token) => {
      expect(signal.aborted).toBe(false);
      expect(token).toBeGreaterThan(0);
      return 42;
    });
    expect(result).toBe(42);
    expect(await store.read('a')).toBeNull();
    await expect(
      locker.withLock('a', undefined, () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    expect(await store.read('a')).toBeNull();
  });

  it('withLock rejects with LockLostError when the lock was lost before fn finished', async () => {
    const { clock, store, locker } = memory();
    const run = locker.withLock('a', { ttlMs: 1000 }, async (signal) => {
      const lease = await store.read('a');
      store.clear(); // the store loses the lease: the next renewal finds it gone
      await clock.advance(400);
      expect(signal.aborted).toBe(true);
      return lease;
    });
    await expect(run).rejects.toBeInstanceOf(LockLostError);
  });

  it('list validates its prefix, and rejects with ConfigurationError on a store that cannot list', async () => {
    const { locker, store } = memory();
    await expect(locker.list('{x')).rejects.toMatchObject({ option: 'prefix' });
    await expect(locker.list(42 as unknown as string)).rejects.toMatchObject({ option: 'prefix' });
    const lock = await locker.lock('a/1');
    expect((await locker.list('a/')).map((l) => [l.name, l.term])).toEqual([['a/1', lock.term]]);
    const plain = new Locker(delegatingStore(store)); // forwards the required operations only
    await expect(plain.list()).rejects.toBeInstanceOf(ConfigurationError);
    await lock.release();
  });

  it('get reads the holder without acquiring, with decoded data', async () => {
    const { locker } = memory();
    expect(await locker.get('a')).toBeNull();
    const lock = await locker.lock('a', { data: { addr: '10.0.0.1:8080' } });
    expect(await locker.get('a')).toMatchObject({
      identity: 'me',
      term: lock.term,
      data: { addr: '10.0.0.1:8080' },
    });
    await lock.release();
  });
});
