/**
 * The etcd store's FIFO queue of waiters (queue.ts) through the public
 * Locker, on a private 3-member cluster: grant order follows arrival order
 * under 16 contenders and nobody starves, a release wakes only the waiter
 * whose turn it is, a waiter that dies holds the queue up for at most its
 * own ttl, one that gives up leaves at once and wakes the next, and callers
 * without a ticket do not jump the queue.
 */
import type { Etcd3, ITxnRequest, ITxnResponse } from 'etcd3';
import { StoreClosedError } from '../../src/errors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdLeaseStore } from '../../src/lock/etcd/etcd-store.js';
import type { AcquireRequest } from '../../src/lock/lease-store.js';
import { keys } from '../../src/lock/etcd/records.js';
import { Locker } from '../../src/lock/locker.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { type Attempt, contend, delayAcquires, overtakes, recording } from '../helpers/fifo-log.js';

let cluster: EtcdCluster;
let admin: Etcd3;
let prefixes = 0;
beforeAll(async () => {
  cluster = await EtcdCluster.start();
  admin = cluster.client();
});
afterAll(async () => {
  await cluster.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A prefix of its own per test, and a store (on a client of its own) under it. */
function storeMaker() {
  const prefix = `fifo/${prefixes++}/`;
  const made: { store: EtcdLeaseStore; client: Etcd3 }[] = [];
  return {
    prefix,
    make(): EtcdLeaseStore {
      const client = cluster.client();
      const store = new EtcdLeaseStore({ client, prefix, watchHeartbeatMs: 500 });
      made.push({ store, client });
      return store;
    },
    /** Tickets queued for `name` now, oldest first. */
    async queued(name: string): Promise<string[]> {
      const k = keys(prefix);
      const r = await admin.kv.range({
        ...k.queue(name),
        sort_order: 'Ascend',
        sort_target: 'Create',
      });
      return r.kvs.map((kv) => k.ticketOf(name, kv.key));
    },
    /** Keys left under the prefix other than leases and terms (the queue, the turn key). */
    async leftovers(): Promise<string[]> {
      const all = await admin.getAll().prefix(prefix).keys();
      return all.filter(
        (k) => !k.startsWith(`${prefix}terms/`) && !k.startsWith(`${prefix}leases/`),
      );
    },
    async close(): Promise<void> {
      for (const { store, client } of made) {
        await store.close();
        client.close();
      }
    },
  };
}

/** `client` with each KV transaction passed through `around` (which sends it with `send`). */
function aroundTxn(
  client: Etcd3,
  around: (request: ITxnRequest, send: () => Promise<ITxnResponse>) => Promise<ITxnResponse>,
) {
  const kv = new Proxy(client.kv, {
    get(target, property) {
      if (property === 'txn')
        return (request: ITxnRequest, options?: object): Promise<ITxnResponse> =>
          around(request, () => target.txn(request, options));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { kv, leaseClient: client.leaseClient, watchClient: client.watchClient };
}

describe('FIFO queue of waiters (etcd)', () => {
  it('16 contenders, each re-locking at once: grants follow arrival order and nobody starves', async () => {
    const stores = storeMaker();
    const log: Attempt[] = [];
    const workers = Array.from(
      { length: 16 },
      (_, w) => new Locker(recording(stores.make(), log, w)),
    );
    const { perWorker, grants, overlap } = await contend(workers, log, 'job', 3000, 200);
    const total = perWorker.reduce((a, b) => a + b, 0);
    expect(overlap).toBe(0);
    expect(total).toBeGreaterThan(48);
    expect(Math.min(...perWorker)).toBeGreaterThanOrEqual(total / 16 / 2);
    expect(log.every((a) => a.ticket !== undefined)).toBe(true);
    expect(overtakes(log, grants)).toEqual([]);
    for (const locker of workers) await locker.settled();
    expect(await stores.queued('job')).toEqual([]);
    await stores.close();
  });

  it('a release wakes only the waiter whose turn it is: one attempt per hand-over', async () => {
    const stores = storeMaker();
    const log: Attempt[] = [];
    const holder = await new Locker(stores.make()).lock('job', { ttlMs: 10_000 });
    const order: number[] = [];
    const done: Promise<void>[] = [];
    for (let w = 0; w < 6; w++) {
      const locker = new Locker(recording(stores.make(), log, w));
      done.push(
        locker.lock('job', { ttlMs: 10_000 }).then(async (lock) => {
          order.push(w);
          await lock.release();
        }),
      );
      // Queued (and subscribed) before the next one starts: arrival order is w.
      await expect.poll(() => stores.queued('job'), { interval: 5 }).toHaveLength(w + 1);
    }
    await sleep(100); // each waiter's retry after subscribing has been refused
    const attemptsBefore = log.length;
    await holder.release();
    await Promise.all(done);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    // Each release woke the next waiter alone, which was granted at its one attempt.
    const after = log.slice(attemptsBefore);
    expect(after.map((a) => [a.worker, a.acquired])).toEqual(order.map((w) => [w, true]));
    expect(await stores.leftovers()).toEqual([]);
    await stores.close();
  });

  it('a waiter that dies at the head holds the queue up for its own ttl, no longer', async () => {
    const stores = storeMaker();
    const store = stores.make();
    const locker = new Locker(store);
    const first = await locker.lock('job', { ttlMs: 10_000 });
    // A caller queues with a 2 s ticket and is never heard of again (its process died).
    const dead = await stores.make().acquire({
      name: 'job',
      token: OwnershipToken.generate(),
      ttlMs: 2000,
      identity: 'dead',
      data: '',
      ticket: 'dead-ticket',
    });
    expect(dead.acquired).toBe(false);
    const queuedAt = performance.now();
    const next = locker.lock('job', { ttlMs: 10_000 });
    await expect.poll(() => stores.queued('job'), { interval: 5 }).toHaveLength(2);
    await first.release();
    const lock = await next;
    const waited = performance.now() - queuedAt;
    // FIFO: not before the dead ticket's etcd lease (2 s) ran out; liveness: soon after.
    expect(waited).toBeGreaterThanOrEqual(1500);
    expect(waited).toBeLessThan(5000);
    await lock.release();
    await stores.close();
  });

  it('a waiter that gives up leaves the queue and the next one is woken at once', async () => {
    const stores = storeMaker();
    const locker = new Locker(stores.make());
    const first = await locker.lock('job', { ttlMs: 10_000 });
    const quitter = new AbortController();
    const gaveUp = new Locker(stores.make())
      .lock('job', { ttlMs: 60_000, signal: quitter.signal })
      .catch(() => null);
    await expect.poll(() => stores.queued('job'), { interval: 5 }).toHaveLength(1);
    const nextLocker = new Locker(stores.make());
    const next = nextLocker.lock('job', { ttlMs: 60_000 });
    await expect.poll(() => stores.queued('job'), { interval: 5 }).toHaveLength(2);
    await first.release(); // the quitter's turn...
    quitter.abort(); // ...which it gives up before taking it (or takes and hands back)
    expect(await gaveUp).toBeNull();
    const t0 = performance.now();
    const lock = await next;
    expect(performance.now() - t0).toBeLessThan(1000); // not the quitter's 60 s ticket
    await lock.release();
    await expect.poll(() => stores.leftovers(), { interval: 20 }).toEqual([]);
    await stores.close();
  });

  it('tryLock does not jump the queue, and the queued ticket is served first', async () => {
    const stores = storeMaker();
    const store = stores.make();
    const request = (ticket: string, ttlMs = 5000) => ({
      name: 'job',
      token: OwnershipToken.generate(),
      ttlMs,
      identity: ticket,
      data: '',
      ticket,
    });
    const holder = request('holder', 1000);
    expect((await store.acquire(holder)).acquired).toBe(true);
    expect((await store.acquire(request('t1'))).acquired).toBe(false); // queued
    expect((await store.acquire(request('t2'))).acquired).toBe(false); // queued behind t1
    await store.release({ name: 'job', token: holder.token, term: 0 });
    // Vacant, with t1 and t2 queued: newcomers are refused...
    expect(await new Locker(stores.make()).tryLock('job', { ttlMs: 10_000 })).toBeNull();
    const t2 = await store.acquire(request('t2'));
    expect(t2.acquired).toBe(false);
    // ...told to come back when t1's ticket would lapse at the latest...
    expect(!t2.acquired && t2.holder === null ? t2.reservedMs : -1).toBeGreaterThan(3000);
    // ...and t1 is granted, then t2.
    expect((await store.acquire(request('t1'))).acquired).toBe(true);
    expect((await store.read('job'))?.identity).toBe('t1');
    expect(await stores.queued('job')).toEqual(['t2']);
    await stores.close();
  });

  it('two attempts of one ticket in flight at once (the first outlived its timeout): the later grant is never revoked by the late refusal of the earlier attempt', async () => {
    const stores = storeMaker();
    const name = 'job';
    const plain = { name, ttlMs: 10_000, identity: 'x', data: '' };
    const base = { ...plain, ticket: 'T', waiting: true };
    const slowToken = OwnershipToken.generate();
    const secondToken = OwnershipToken.generate();
    let lateReply: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (lateReply = resolve));
    const real = cluster.client();
    // The first attempt's transaction is applied (refused: the ticket goes on its etcd lease),
    // but its reply is read only after the second attempt was granted.
    const store = new EtcdLeaseStore({
      client: aroundTxn(real, async (request, send) => {
        const reply = await send();
        const put = request.success?.[0]?.request_put?.value?.toString() ?? '';
        if (put.includes(slowToken.reveal())) await gate;
        if (put.includes(secondToken.reveal()) && reply.succeeded) {
          // Applied: granted. The first attempt's reply is read before this one's.
          lateReply();
          await sleep(50);
        }
        return reply;
      }),
      prefix: stores.prefix,
    });
    const holderStore = stores.make();
    const holderToken = OwnershipToken.generate();
    const held = await holderStore.acquire({ ...plain, token: holderToken });
    expect(held.acquired).toBe(true);
    const first = store.acquire({ ...base, token: slowToken });
    await sleep(200); // its transaction has been applied; its reply waits
    await holderStore.release({ name, token: holderToken, term: 0 });
    const second = store.acquire({ ...base, token: secondToken });
    // A store that runs one ticket's attempts in order never sends the second before the
    // first is answered: the first's reply then comes by this timer instead.
    const timer = setTimeout(lateReply, 500);
    const [a, b] = await Promise.all([first, second]);
    clearTimeout(timer);
    expect(a.acquired).toBe(false);
    expect(b.acquired).toBe(true);
    const term = b.acquired ? b.term : 0;
    await sleep(200); // any revoke the late refusal sent has landed
    // The grant is still there: nobody else is granted the name, and its renewal works.
    expect(
      await stores.make().acquire({ ...plain, token: OwnershipToken.generate() }),
    ).toMatchObject({ acquired: false });
    expect(await store.renew({ name, token: secondToken, term }, 10_000)).toBe('renewed');
    expect(await store.release({ name, token: secondToken, term })).toBe(true);
    await store.close();
    await stores.close();
  });

  it('a call that gives up while an attempt outlives its request timeout leaves no ticket behind once that attempt is over', async () => {
    const stores = storeMaker();
    const holder = await new Locker(stores.make()).lock('job', { ttlMs: 10_000 });
    const slow = stores.make();
    const calls = delayAcquires(slow, 400);
    const locker = new Locker(slow);
    const gaveUp = await locker
      .lock('job', { ttlMs: 6000, requestTimeoutMs: 200, retryLimit: 0 })
      .catch((error: unknown) => error);
    expect(gaveUp).toBeInstanceOf(Error);
    await locker.settled(); // the late attempt (it queued the ticket), then the withdrawal
    await Promise.all(calls); // over, in any case
    expect(await stores.queued('job')).toEqual([]);
    const next = new Locker(stores.make()).lock('job', { ttlMs: 10_000 });
    await expect.poll(() => stores.queued('job'), { interval: 5 }).toHaveLength(1);
    const t0 = performance.now();
    await holder.release();
    const lock = await next;
    expect(performance.now() - t0).toBeLessThan(1000); // not the given-up call's 6 s ticket
    await lock.release();
    await stores.close();
  });

  it.each([
    ['queued', true],
    ['whose first attempt is in flight', false],
  ])(
    'closing a store (then its client, at once) while its lock() waits, %s, ends that call and takes its ticket out of the queue',
    async (_, settle) => {
      const stores = storeMaker();
      const holder = await new Locker(stores.make()).lock('job', { ttlMs: 10_000 });
      const client = cluster.client();
      const closing = new EtcdLeaseStore({ client, prefix: stores.prefix });
      // (It sleeps on the store's watch, which closing ends: it learns at its next attempt,
      // by half its ttl at the latest.)
      const waiting = new Locker(closing)
        .lock('job', { ttlMs: 8000 })
        .catch((error: unknown) => error);
      if (settle) await expect.poll(() => stores.queued('job'), { interval: 5 }).toHaveLength(1);
      // The shutdown order the README shows.
      await closing.close();
      client.close();
      expect(await waiting).toBeInstanceOf(StoreClosedError);
      expect(await stores.queued('job')).toEqual([]);
      const next = new Locker(stores.make()).lock('job', { ttlMs: 10_000 });
      await expect.poll(() => stores.queued('job'), { interval: 5 }).toHaveLength(1);
      const t0 = performance.now();
      await holder.release();
      const lock = await next;
      expect(performance.now() - t0).toBeLessThan(1000); // not the closed store's 8 s ticket
      await lock.release();
      await stores.close();
    },
  );

  it('an attempt whose turn comes after a newer attempt of the same call was queued is not sent', async () => {
    const stores = storeMaker();
    const holder = await new Locker(stores.make()).lock('job', { ttlMs: 10_000 });
    const real = cluster.client();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let txns = 0;
    const store = new EtcdLeaseStore({
      client: aroundTxn(real, async (_, send) => {
        txns++;
        await gate;
        return send();
      }),
      prefix: stores.prefix,
    });
    const request = () => ({
      name: 'job',
      token: OwnershipToken.generate(),
      ttlMs: 10_000,
      identity: 'me',
      data: '',
      ticket: 'T',
      waiting: true,
    });
    // Three attempts of one call, each given up on while the one before hangs.
    const outcome = (r: AcquireRequest): Promise<unknown> =>
      store.acquire(r).then(
        (result) => result.acquired,
        (error: unknown) => error,
      );
    const outcomes = [outcome(request())];
    await expect.poll(() => txns, { interval: 5 }).toBe(1);
    outcomes.push(outcome(request()), outcome(request()));
    await sleep(50);
    open();
    const [first, second, third] = await Promise.all(outcomes);
    expect(first).toBe(false); // sent before the others were queued: refused (held)
    expect(second).toMatchObject({ code: 'TENURE_STORE_UNAVAILABLE', ambiguous: false });
    expect(third).toBe(false);
    expect(txns).toBe(2);
    await store.close();
    await holder.release();
    await stores.close();
  });
});
