/**
 * Subscriptions that hang, fail once or fail forever (issue 10, item 5):
 * one policy (bounded wait, retry with backoff, the caller's signal) for the
 * Elector, the Locker's waiters and watch(), and the Redis channel
 * bookkeeping under concurrent and failed SUBSCRIBEs.
 */
import { LINGER_MS } from '../../src/lock/waiters.js';
import { afterEach, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { LeaseStore, Unsubscribe } from '../../src/lock/lease-store.js';
import { Locker } from '../../src/lock/locker.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import {
  ChannelSubscriptions,
  type SubscriberConnection,
} from '../../src/lock/channel-subscriptions.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { delegatingStore } from '../helpers/delegating-store.js';

type Mode = 'ok' | 'hang' | 'fail';

/** A memory store whose subscribe() hangs or fails as told; counts live subscriptions. */
function flakySubscriptions(clock: FakeClock, modes: Mode[]) {
  const memory = new MemoryLeaseStore({ clock });
  const stats = { attempts: 0, live: 0, pending: [] as (() => void)[] };
  const store: LeaseStore = delegatingStore(memory, {
    subscribe: (name, listener): Promise<Unsubscribe> => {
      const mode = modes[Math.min(stats.attempts, modes.length - 1)] ?? 'ok';
      stats.attempts++;
      const subscribe = async (): Promise<Unsubscribe> => {
        const off = await memory.subscribe(name, listener);
        stats.live++;
        return () => {
          stats.live--;
          off();
        };
      };
      if (mode === 'fail')
        return Promise.reject(
          new StoreUnavailableError('Connection is closed.', { ambiguous: true }),
        );
      if (mode === 'ok') return subscribe();
      // 'hang': answers only when the test says so (an ioredis offline queue).
      return new Promise((resolve) => stats.pending.push(() => resolve(subscribe())));
    },
  });
  return { memory, store, stats };
}

async function holdName(memory: MemoryLeaseStore, name: string, ttlMs = 60_000) {
  const token = OwnershipToken.generate();
  const r = await memory.acquire({ name, token, ttlMs, identity: 'other', data: '' });
  if (!r.acquired) throw new Error('not acquired');
  return { name, token, term: r.term };
}

const settled = (p: Promise<unknown>): (() => boolean) => {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
};

const timing = { ttlMs: 1000, renewMs: 250, retryMs: 200, retryJitterMs: 0 };
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

function elector(store: LeaseStore, clock: FakeClock, campaign = true): Elector {
  const e = new Elector({ store, clock, election: 'e', campaign, ...timing });
  e.on('error', () => undefined);
  stops.push(async () => {
    const stopping = e.stop();
    await clock.advance(5000);
    await stopping;
  });
  return e;
}

describe('a subscribe that never answers', () => {
  it('start() resolves after the request timeout and stop() settles, campaigning and observing', async () => {
    for (const campaign of [true, false]) {
      const clock = new FakeClock();
      const { store, stats } = flakySubscriptions(clock, ['hang']);
      const e = elector(store, clock, campaign);
      const started = settled(e.start());
      await clock.advance(260); // requestTimeoutMs defaults to renewMs (250)
      expect(started(), `start() with campaign ${campaign}`).toBe(true);
      expect(e.isLeader).toBe(campaign);
      const stopped = settled(e.stop());
      await clock.advance(1);
      expect(stopped(), `stop() with campaign ${campaign}`).toBe(true);
      // The hung SUBSCRIBEs answer after all: each is unsubscribed at once, nothing leaks.
      for (const answer of stats.pending.splice(0)) answer();
      await settle();
      await settle();
      expect(stats.live).toBe(0);
    }
  });

  it('lock({ signal }) rejects promptly after abort while waiting for the subscription', async () => {
    const clock = new FakeClock();
    const { memory, store } = flakySubscriptions(clock, ['hang']);
    await holdName(memory, 'x');
    const locker = new Locker(store, { clock, requestTimeoutMs: 5000 });
    const controller = new AbortController();
    const locking = locker.lock('x', { signal: controller.signal, retryJitterMs: 0 });
    const done = settled(locking);
    await clock.advance(10);
    expect(done()).toBe(false);
    controller.abort(new Error('gave up'));
    await settle();
    expect(done()).toBe(true);
    await expect(locking).rejects.toThrow('gave up');
  });

  it('watch() yields the holder without waiting for the subscription', async () => {
    const clock = new FakeClock();
    const { memory, store } = flakySubscriptions(clock, ['hang']);
    await holdName(memory, 'w');
    const locker = new Locker(store, { clock, requestTimeoutMs: 100 });
    const controller = new AbortController();
    const it = locker.watch('w', { signal: controller.signal });
    const first = it.next();
    await clock.advance(150);
    await expect(first).resolves.toMatchObject({ value: { identity: 'other' } });
    controller.abort();
    await clock.advance(100);
    await it.return(undefined);
  });
});

describe('a subscribe that fails once', () => {
  it('the elector subscribes again and a release then wakes it at once', async () => {
    const clock = new FakeClock();
    const { memory, store, stats } = flakySubscriptions(clock, ['fail', 'ok']);
    const held = await holdName(memory, 'e');
    const e = elector(store, clock);
    await e.start();
    expect(e.isLeader).toBe(false);
    await clock.advance(250); // the retry (retryMs 200) subscribes again
    expect(stats.attempts).toBe(2);
    expect(stats.live).toBe(1);
    await memory.release(held);
    await settle();
    await settle();
    expect(e.isLeader).toBe(true); // woken by the notification, 59 s before the holder's expiry
  });

  it('lock() waiters subscribe again after a failed subscribe', async () => {
    const clock = new FakeClock();
    const { memory, store, stats } = flakySubscriptions(clock, ['fail', 'ok']);
    const held = await holdName(memory, 'x');
    const locker = new Locker(store, { clock });
    const locking = locker.lock('x', { retryJitterMs: 0 });
    await clock.advance(1000); // first retry after 200 ms
    expect(stats.live).toBe(1);
    await memory.release(held);
    await clock.advance(1);
    const lock = await locking;
    expect(lock.isValid).toBe(true);
    await lock.release();
    await settle();
    expect(stats.live).toBe(1); // kept for the next contended call...
    await clock.advance(LINGER_MS);
    expect(stats.live).toBe(0); // ...then closed
  });
});

describe('observe mode with the store unreachable', () => {
  it('start() resolves after the first failed read, and health recovers once reads succeed again', async () => {
    const clock = new FakeClock();
    const memory = new MemoryLeaseStore({ clock });
    const down = { reads: true };
    const store: LeaseStore = {
      kind: 'down',
      acquire: (r) => memory.acquire(r),
      renew: (l, t) => memory.renew(l, t),
      release: (l) => memory.release(l),
      read: (n) =>
        down.reads
          ? Promise.reject(new StoreUnavailableError('Connection is closed.', { ambiguous: true }))
          : memory.read(n),
      subscribe: (n, l) => memory.subscribe(n, l),
      close: () => memory.close(),
    };
    await holdName(memory, 'e', 600_000);
    const observer = elector(store, clock, false);
    const started = settled(observer.start());
    await clock.advance(1);
    expect(started()).toBe(true);
    await clock.advance(1500);
    expect(observer.health().healthy).toBe(false);
    down.reads = false;
    await clock.advance(400); // the next read succeeds; the leader has not changed
    expect(observer.leader?.identity).toBe('other');
    expect(observer.health()).toMatchObject({ healthy: true, storeFailingForMs: null });
  });
});

/** A fake pub/sub connection whose SUBSCRIBE replies the test controls. */
function fakeConnection() {
  const subscribes: { channel: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  const unsubscribes: string[] = [];
  let onMessage: ((channel: string, message: string) => void) | undefined;
  const connection: SubscriberConnection = {
    subscribe: (channel) =>
      new Promise<void>((resolve, reject) => subscribes.push({ channel, resolve, reject })),
    unsubscribe: (channel) => {
      unsubscribes.push(channel);
      return Promise.resolve();
    },
    on: (event: string, listener: unknown) => {
      if (event === 'message') onMessage = listener as typeof onMessage;
      return connection;
    },
    disconnect: () => undefined,
  };
  return {
    connection,
    subscribes,
    unsubscribes,
    publish: (c: string, m: string) => onMessage?.(c, m),
  };
}

describe('ChannelSubscriptions (Redis pub/sub bookkeeping)', () => {
  it('a second concurrent add() resolves only once the SUBSCRIBE is acknowledged', async () => {
    const fake = fakeConnection();
    const channels = new ChannelSubscriptions(() => fake.connection);
    const first = settled(channels.add('c', () => undefined));
    const second = settled(channels.add('c', () => undefined));
    await settle();
    expect(fake.subscribes).toHaveLength(1);
    expect(first() || second()).toBe(false);
    fake.subscribes[0]?.resolve();
    await settle();
    expect(first() && second()).toBe(true);
  });

  it('after a failed SUBSCRIBE every waiting add() rejects and the next add() subscribes afresh', async () => {
    const fake = fakeConnection();
    const channels = new ChannelSubscriptions(() => fake.connection);
    const a = channels.add('c', () => undefined);
    const b = channels.add('c', () => undefined);
    fake.subscribes[0]?.reject(new Error('Connection is closed.'));
    await expect(a).rejects.toThrow('closed');
    await expect(b).rejects.toThrow('closed');
    const got: string[] = [];
    const c = channels.add('c', (m) => got.push(m));
    expect(fake.subscribes).toHaveLength(2);
    fake.subscribes[1]?.resolve();
    const unsubscribe = await c;
    fake.publish('c', 'released');
    expect(got).toEqual(['released']);
    unsubscribe();
    await settle();
    await settle();
    expect(fake.unsubscribes).toEqual(['c']);
  });

  it('does not unsubscribe a channel that was added again before its UNSUBSCRIBE went out', async () => {
    const fake = fakeConnection();
    const channels = new ChannelSubscriptions(() => fake.connection);
    const first = channels.add('c', () => undefined);
    fake.subscribes[0]?.resolve();
    (await first)();
    const again = channels.add('c', () => undefined);
    fake.subscribes[1]?.resolve();
    await again;
    await settle();
    await settle();
    expect(fake.unsubscribes).toEqual([]);
  });
});
