/**
 * The Redis store's FIFO queue of waiters (acquire.lua, release.lua,
 * withdraw.lua) through the public Locker, against a private redis-server:
 * grant order follows arrival order under 16 contenders, nobody starves, a
 * release wakes only the waiter whose turn it is, a waiter that dies holds
 * the queue up for at most its own ttl, and one that gives up leaves at once.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Locker } from '../../src/lock/locker.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { leaseKeys } from '../../src/lock/redis/keys.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { type Attempt, contend, delayAcquires, overtakes, recording } from '../helpers/fifo-log.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await RedisServer.start();
  admin = server.client();
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('FIFO queue of waiters (Redis)', () => {
  it('16 contenders, each re-locking at once: grants follow arrival order and nobody starves', async () => {
    const namespace = uniqueNamespace();
    const log: Attempt[] = [];
    const workers = Array.from({ length: 16 }, (_, w) => {
      const client = server.client();
      const store = new RedisLeaseStore({ client, namespace });
      return { client, store, locker: new Locker(recording(store, log, w)) };
    });
    const { perWorker, grants, overlap } = await contend(
      workers.map((w) => w.locker),
      log,
      'job',
      1500,
      400,
    );
    const total = perWorker.reduce((a, b) => a + b, 0);
    expect(overlap).toBe(0);
    expect(total).toBeGreaterThan(100);
    expect(Math.min(...perWorker)).toBeGreaterThanOrEqual(total / 16 / 2);
    // Every call had a ticket (the order check below identifies calls by it)...
    expect(log.every((a) => a.ticket !== undefined)).toBe(true);
    // ...and no call that provably arrived later was granted earlier.
    expect(overtakes(log, grants)).toEqual([]);
    // The queue is empty afterwards.
    const keys = leaseKeys(namespace, 'job');
    expect(await admin.exists(keys.queue, keys.tickets)).toBe(0);
    for (const { store, client } of workers) {
      await store.close();
      client.disconnect();
    }
  });

  it('a release grants the lease to the waiter whose turn it is: no attempt per hand-over', async () => {
    const namespace = uniqueNamespace();
    const log: Attempt[] = [];
    const holderStore = new RedisLeaseStore({ client: server.client(), namespace });
    const holder = await new Locker(holderStore).lock('job', { ttlMs: 10_000 });
    const waiters = Array.from({ length: 8 }, () => {
      const client = server.client();
      const store = new RedisLeaseStore({ client, namespace });
      return { client, store, locker: new Locker(recording(store, log)) };
    });
    const keys = leaseKeys(namespace, 'job');
    const order: number[] = [];
    const done: Promise<void>[] = [];
    for (const [w, { locker }] of waiters.entries()) {
      done.push(
        locker.lock('job', { ttlMs: 10_000 }).then(async (lock) => {
          order.push(w);
          await lock.release();
        }),
      );
      // Queued (and subscribed) before the next one starts: arrival order is w.
      await expect.poll(() => admin.zcard(keys.queue), { interval: 5 }).toBe(w + 1);
    }
    await sleep(50); // subscriptions settle
    const attemptsBefore = log.length;
    await holder.release();
    await Promise.all(done);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Each release handed the lease to the next waiter directly: no waiter sent an attempt
    // (none was woken out of turn, and the one whose turn it was needed no round trip).
    expect(log.slice(attemptsBefore)).toEqual([]);
    await holderStore.close();
    for (const { store, client } of waiters) {
      await store.close();
      client.disconnect();
    }
  });

  it('a waiter that dies at the head holds the queue up for its own ttl, no longer', async () => {
    const namespace = uniqueNamespace();
    const client = server.client();
    const store = new RedisLeaseStore({ client, namespace });
    const locker = new Locker(store);
    const first = await locker.lock('job', { ttlMs: 10_000 });
    // A caller queues with a 400 ms ticket and is never heard of again (its process died).
    const dead = await store.acquire({
      name: 'job',
      token: OwnershipToken.generate(),
      ttlMs: 400,
      identity: 'dead',
      data: '',
      ticket: 'dead-ticket',
    });
    expect(dead.acquired).toBe(false);
    const queuedAt = performance.now();
    const next = locker.lock('job', { ttlMs: 10_000 });
    await sleep(30);
    await first.release();
    const lock = await next;
    const waited = performance.now() - queuedAt;
    // FIFO: not before the dead ticket lapsed; liveness: soon after (not the waiter's 10 s ttl).
    expect(waited).toBeGreaterThanOrEqual(380);
    expect(waited).toBeLessThan(2000);
    await lock.release();
    await store.close();
    client.disconnect();
  });

  it('a waiter that gives up leaves the queue and the next one is woken at once', async () => {
    const namespace = uniqueNamespace();
    const client = server.client();
    const store = new RedisLeaseStore({ client, namespace, handoffMs: 0 });
    const locker = new Locker(store);
    const keys = leaseKeys(namespace, 'job');
    const first = await locker.lock('job', { ttlMs: 10_000 });
    const quitter = new AbortController();
    const gaveUp = locker.lock('job', { ttlMs: 60_000, signal: quitter.signal }).catch(() => null);
    await expect.poll(() => admin.zcard(keys.queue), { interval: 5 }).toBe(1);
    const next = locker.lock('job', { ttlMs: 60_000 });
    await expect.poll(() => admin.zcard(keys.queue), { interval: 5 }).toBe(2);
    await first.release(); // the quitter's turn...
    quitter.abort(); // ...which it gives up before taking it (or takes and hands back)
    expect(await gaveUp).toBeNull();
    const t0 = performance.now();
    const lock = await next;
    expect(performance.now() - t0).toBeLessThan(1000); // not the quitter's 60 s ticket
    await lock.release();
    await locker.settled();
    expect(await admin.exists(keys.queue, keys.tickets)).toBe(0);
    await store.close();
    client.disconnect();
  });

  it('a call that gives up while an attempt outlives its request timeout leaves no ticket behind once that attempt is over', async () => {
    const namespace = uniqueNamespace();
    const client = server.client();
    const keys = leaseKeys(namespace, 'job');
    const holder = await new Locker(new RedisLeaseStore({ client, namespace })).lock('job', {
      ttlMs: 10_000,
    });
    const slow = new RedisLeaseStore({ client, namespace });
    const calls = delayAcquires(slow, 400);
    const locker = new Locker(slow);
    const gaveUp = await locker
      .lock('job', { ttlMs: 6000, requestTimeoutMs: 200, retryLimit: 0 })
      .catch((error: unknown) => error);
    expect(gaveUp).toBeInstanceOf(Error);
    await locker.settled(); // the late attempt (it queued the ticket), then the withdrawal
    await Promise.all(calls); // over, in any case
    expect(await admin.exists(keys.queue, keys.tickets)).toBe(0);
    await holder.release();
    await slow.close();
    client.disconnect();
  });

  it('tryLock does not jump the queue, and the queued ticket is served first', async () => {
    const namespace = uniqueNamespace();
    const client = server.client();
    const store = new RedisLeaseStore({ client, namespace, handoffMs: 0 });
    const locker = new Locker(store);
    const request = (ticket: string, ttlMs = 5000) => ({
      name: 'job',
      token: OwnershipToken.generate(),
      ttlMs,
      identity: ticket,
      data: '',
      ticket,
    });
    expect((await store.acquire(request('holder', 100))).acquired).toBe(true);
    expect((await store.acquire(request('t1'))).acquired).toBe(false); // queued
    await sleep(150); // the holder's lease expires: vacant, with t1 queued
    // Newcomers are refused...
    expect(await locker.tryLock('job', { ttlMs: 10_000 })).toBeNull();
    const t2 = await store.acquire(request('t2'));
    expect(t2.acquired).toBe(false);
    // ...told to come back when t1's ticket would lapse at the latest...
    expect(!t2.acquired && t2.holder === null ? t2.reservedMs : -1).toBeGreaterThan(4000);
    // ...and t1 is granted, then t2.
    const g1 = await store.acquire({ ...request('t1'), waiting: true });
    expect(g1.acquired).toBe(true);
    expect((await store.read('job'))?.identity).toBe('t1');
    const keys = leaseKeys(namespace, 'job');
    expect(await admin.zrange(keys.queue, '0', '-1')).toEqual(['t2']);
    await store.close();
    client.disconnect();
  });

  it('a call aborted while its first attempt is in flight still withdraws its ticket', async () => {
    const namespace = uniqueNamespace();
    const client = server.client();
    const store = new RedisLeaseStore({ client, namespace });
    const locker = new Locker(store);
    const keys = leaseKeys(namespace, 'job');
    const held = await locker.lock('job', { ttlMs: 10_000 });
    const quitter = new AbortController();
    const gaveUp = locker.lock('job', { ttlMs: 10_000, signal: quitter.signal }).catch(() => null);
    quitter.abort(); // the first attempt (which queues the ticket) is on its way
    expect(await gaveUp).toBeNull();
    await locker.settled(); // the attempt, then the withdrawal
    expect(await admin.exists(keys.queue, keys.tickets)).toBe(0);
    const next = locker.lock('job', { ttlMs: 10_000 });
    await expect.poll(() => admin.zcard(keys.queue), { interval: 5 }).toBe(1);
    const t0 = performance.now();
    await held.release();
    const lock = await next;
    expect(performance.now() - t0).toBeLessThan(1000); // not the quitter's 10 s ticket
    await lock.release();
    await store.close();
    client.disconnect();
  });

  it('a release that names a waiter while it is still subscribing is not lost', async () => {
    const namespace = uniqueNamespace();
    const make = (subscribeDelayMs: number) => {
      const client = server.client();
      const store = new RedisLeaseStore({ client, namespace, handoffMs: 0 });
      const slow = new Proxy(store, {
        get(target, property) {
          if (property === 'subscribe')
            return async (...args: Parameters<RedisLeaseStore['subscribe']>) => {
              await sleep(subscribeDelayMs);
              return target.subscribe(...args);
            };
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
        },
      });
      return { client, store, locker: new Locker(slow) };
    };
    const h = make(0);
    const b = make(0);
    const a = make(100); // A's subscription takes 100 ms to come up
    const held = await h.locker.lock('job', { ttlMs: 10_000 });
    const bDone = b.locker.lock('job', { ttlMs: 10_000 }).then(async (lock) => {
      await sleep(20);
      await lock.release(); // names A, whose subscription is not up yet
    });
    await sleep(100);
    await held.release(); // B's turn
    const t0 = performance.now();
    const aLock = await a.locker.lock('job', { ttlMs: 10_000 });
    // A retries once subscribed instead of sleeping until its ticket's half-life (5 s).
    expect(performance.now() - t0).toBeLessThan(1000);
    await bDone;
    await aLock.release();
    for (const x of [h, b, a]) {
      await x.store.close();
      x.client.disconnect();
    }
  });

  it('hundreds of expired tickets at the head are dropped: the oldest live one still goes first, and a grant leaves no ticket behind', async () => {
    const namespace = uniqueNamespace();
    const client = server.client();
    const store = new RedisLeaseStore({ client, namespace, handoffMs: 0 });
    const keys = leaseKeys(namespace, 'job');
    const request = (ticket: string, ttlMs = 5000) => ({
      name: 'job',
      token: OwnershipToken.generate(),
      ttlMs,
      identity: ticket,
      data: '',
      waiting: true,
      ticket,
    });
    const holder = request('holder');
    expect((await store.acquire(holder)).acquired).toBe(true);
    for (let i = 0; i < 300; i++) await store.acquire(request(`dead${i}`, 20)); // waiters that die
    const older = request('older');
    await store.acquire(older);
    await store.acquire(request('newer'));
    await sleep(50); // the 300 tickets expire
    // Whose turn each release gave, as this store's inbox hears it (its tickets and the next).
    const turns: (string | undefined)[] = [];
    await store.subscribe(
      'job',
      (event, detail) => {
        if (event === 'released') turns.push(detail?.next);
        else if (detail?.granted) turns.push(detail.granted.ticket);
      },
      { waiting: true },
    );
    expect(await store.release({ name: 'job', token: holder.token, term: 0 })).toBe(true);
    await expect.poll(() => turns, { interval: 5 }).toEqual(['older']);
    expect((await store.read('job'))?.identity).toBe('older'); // granted directly
    expect((await store.acquire(request('newer'))).acquired).toBe(false);
    expect(await admin.zrange(keys.queue, '0', '-1')).toEqual(['newer']);
    expect(await store.release({ name: 'job', token: older.token, term: 0 })).toBe(true);
    await expect.poll(() => turns, { interval: 5 }).toEqual(['older', 'newer']);
    await store.close();
    client.disconnect();
  });

  it('a direct grant counts validity from the attempt that queued the waiter, and renews with its token', async () => {
    const namespace = uniqueNamespace();
    const log: Attempt[] = [];
    const client = server.client();
    const store = new RedisLeaseStore({ client, namespace });
    const holder = await new Locker(store).lock('job', { ttlMs: 10_000 });
    const waiterStore = new RedisLeaseStore({ client: server.client(), namespace });
    const waiter = new Locker(recording(waiterStore, log));
    const keys = leaseKeys(namespace, 'job');
    const pending = waiter.lock('job', { ttlMs: 1500, renewMs: 300 });
    await expect.poll(() => admin.zcard(keys.queue), { interval: 5 }).toBe(1);
    await sleep(400);
    const lastSent = Math.max(...log.map((a) => a.sentAt));
    const attempts = log.length;
    await holder.release();
    const lock = await pending;
    expect(log.length).toBe(attempts); // no attempt after the release
    expect(lock.term).toBeGreaterThan(holder.term);
    // Validity counts from the waiter's last attempt (>= 400 ms ago), not from the grant.
    expect(lock.remainingMs).toBeLessThanOrEqual(1500 - (performance.now() - lastSent) + 5);
    await sleep(1600); // past the first ttl: only renewals with the granted token keep it
    expect(lock.isValid).toBe(true);
    expect(await lock.release()).toBe(true);
    await store.close();
    await waiterStore.close();
    client.disconnect();
  });

  it('a granted ticket that gives up frees the lease; a lost grant is learnt on the next attempt', async () => {
    const namespace = uniqueNamespace();
    const client = server.client();
    const store = new RedisLeaseStore({ client, namespace });
    const request = (ticket: string) => ({
      name: 'job',
      token: OwnershipToken.generate(),
      ttlMs: 5000,
      identity: ticket,
      data: '',
      waiting: true,
      ticket,
    });
    const holder = request('holder');
    expect((await store.acquire(holder)).acquired).toBe(true);
    const first = request('gives-up');
    expect((await store.acquire(first)).acquired).toBe(false); // queued
    const second = request('learns');
    expect((await store.acquire(second)).acquired).toBe(false); // queued behind
    expect(await store.release({ name: 'job', token: holder.token, term: 0 })).toBe(true);
    expect((await store.read('job'))?.identity).toBe('gives-up'); // granted directly
    await store.withdraw('job', 'gives-up');
    // Freed, and 'learns' was named next: its attempt (a lost grant notice would end the
    // same way) takes it.
    const again = request('learns');
    const granted = await store.acquire(again);
    expect(granted.acquired).toBe(true);
    const third = request('late');
    expect((await store.acquire(third)).acquired).toBe(false); // queued
    expect(await store.release({ name: 'job', token: again.token, term: 0 })).toBe(true);
    expect((await store.read('job'))?.identity).toBe('late'); // granted directly, notice "lost"
    const retry = request('late');
    const learnt = await store.acquire(retry);
    expect(learnt).toEqual({
      acquired: true,
      term: expect.any(Number) as number,
      grantedTokenSha1: createHash('sha1').update(third.token.reveal()).digest('hex'),
    });
    // The granted token holds it; the retry's own token does not.
    expect(await store.release({ name: 'job', token: retry.token, term: 0 })).toBe(false);
    expect(await store.release({ name: 'job', token: third.token, term: 0 })).toBe(true);
    await store.close();
    client.disconnect();
  });

  it('a release never grants directly to a waiter whose store confirms grants with WAIT', async () => {
    const namespace = uniqueNamespace();
    const keys = leaseKeys(namespace, 'job');
    const h = new RedisLeaseStore({ client: server.client(), namespace });
    // No replicas here: every acquisition through this store fails its WAIT.
    const t = new RedisLeaseStore({ client: server.client(), namespace, waitReplicas: 1 });
    const held = await new Locker(h, { identity: 'h' }).lock('job', { ttlMs: 10_000 });
    const waiting = new Locker(t, { identity: 't' })
      .lock('job', { ttlMs: 10_000, retryMs: 20, retryLimit: 3 })
      .then(
        () => 'acquired',
        () => 'refused',
      );
    await expect.poll(() => admin.zcard(keys.queue), { interval: 5 }).toBe(1);
    await held.release(); // names t; does not hand it the lease
    expect((await h.read('job'))?.identity).not.toBe('t');
    expect(await waiting).toBe('refused');
    expect((await h.read('job'))?.identity).not.toBe('t');
    await h.close();
    await t.close();
  });
});
