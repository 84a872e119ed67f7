/**
 * waitReplicas against a real primary and replica; the replica replicates
 * through a FaultProxy so replication can be stalled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotEnoughReplicasError } from '../../src/errors.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { Locker } from '../../src/lock/locker.js';
import { leaseKeys } from '../../src/lock/redis/keys.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { FaultProxy } from '../fault/proxy.js';
import { Redis } from 'ioredis';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

let primary: RedisServer;
let replica: RedisServer;
let link: FaultProxy;

beforeAll(async () => {
  primary = await RedisServer.start();
  link = await FaultProxy.start(primary.port);
  replica = await primary.startReplica(link.port); // resolves once the primary counts it for WAIT
});
afterAll(async () => {
  await replica.stop();
  await link.close();
  await primary.stop();
});

const request = (name: string) => ({
  name,
  token: OwnershipToken.generate(),
  ttlMs: 2000,
  identity: 'me',
  data: '',
});

/** A store on `client` that counts writes once 1 replica confirmed them. */
const replicated = (client: Redis, waitTimeoutMs?: number): RedisLeaseStore =>
  new RedisLeaseStore({
    client,
    namespace: uniqueNamespace(),
    waitReplicas: 1,
    ...(waitTimeoutMs === undefined ? {} : { waitTimeoutMs }),
  });

describe('waitReplicas', () => {
  it('counts an acquisition once a replica confirmed it, and the replica has the lease', async () => {
    const namespace = uniqueNamespace();
    const store = new RedisLeaseStore({
      client: primary.client(),
      namespace,
      waitReplicas: 1,
      waitTimeoutMs: 500,
    });
    const r = await store.acquire(request('job'));
    expect(r.acquired).toBe(true);
    expect(await replica.client().exists(leaseKeys(namespace, 'job').lease)).toBe(1);
    expect(await store.diagnose()).toEqual([]);
    await store.close();
  });

  it('refuses an acquisition that no replica confirmed and hands the lease back on the primary', async () => {
    const namespace = uniqueNamespace();
    const store = new RedisLeaseStore({
      client: primary.client(),
      namespace,
      waitReplicas: 1,
      waitTimeoutMs: 50,
    });
    link.stall();
    try {
      const error = await store.acquire(request('job')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotEnoughReplicasError);
      expect(error).toMatchObject({ code: 'TENURE_NOREPLICAS', ambiguous: true });
      await expect
        .poll(() => primary.client().exists(leaseKeys(namespace, 'job').lease), { timeout: 2000 })
        .toBe(0);
    } finally {
      link.heal('deliver');
    }
    await store.close();
  });

  it('does not extend a lock whose renewals are not replicated: it ends at the last confirmed deadline', async () => {
    const namespace = uniqueNamespace();
    const store = new RedisLeaseStore({
      client: primary.client(),
      namespace,
      waitReplicas: 1,
      waitTimeoutMs: 30,
    });
    const lock = await new Locker(store).lock('job', {
      ttlMs: 1000,
      renewMs: 200,
      requestTimeoutMs: 150,
    });
    const stalledAt = performance.now();
    link.stall();
    try {
      await new Promise<void>((resolve) =>
        lock.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      const after = performance.now() - stalledAt;
      expect(after).toBeLessThan(1000); // renewals on the primary kept succeeding, but were not counted
      expect(lock.isValid).toBe(false);
    } finally {
      link.heal('deliver');
    }
    await lock.release().catch(() => false);
    await store.close();
  });

  it("WAIT blocks only the store's own connection: the caller's client answers meanwhile", async () => {
    const client = primary.client();
    const store = replicated(client, 1500);
    await store.acquire(request('warm')); // opens the store's connection
    link.stall();
    try {
      const acquired = store.acquire(request('job')).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the batch and its WAIT are on the wire
      const sent = performance.now();
      await client.ping();
      const pingMs = performance.now() - sent;
      // Pipelined on the caller's client (as before), PING waited behind the WAIT, which blocks
      // for 1,450 ms more here; on the store's own connection it is answered at once.
      expect(pingMs).toBeLessThan(700);
      expect(await acquired).toBeInstanceOf(NotEnoughReplicasError);
    } finally {
      link.heal('deliver');
    }
    await store.close();
  });

  it('confirms concurrent acquisitions with one WAIT per batch, and reloads a lost script within a batch', async () => {
    const client = primary.client();
    const store = replicated(client, 2000);
    await store.acquire(request('warm'));
    await client.call('script', 'flush');
    await client.config('RESETSTAT');
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) => store.acquire(request(`job-${i}`))),
    );
    expect(results.every((r) => r.acquired)).toBe(true);
    const stats = await client.info('commandstats');
    const calls = (command: string) =>
      Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    // On each of the store's two connections the first acquisition goes alone (and is sent
    // again with EVAL: the script cache is empty); those sent meanwhile go in one next batch.
    expect(calls('wait')).toBeGreaterThanOrEqual(2);
    expect(calls('wait')).toBeLessThanOrEqual(6);
    expect(calls('eval')).toBeGreaterThanOrEqual(1);
    expect(store.stats.scriptReloads).toBeGreaterThanOrEqual(1);
    // Every lease is on the replica: one WAIT confirmed its whole batch.
    const names = Array.from(
      { length: 64 },
      (_, i) => leaseKeys(store.namespace, `job-${i}`).lease,
    );
    expect(await replica.client().exists(...names)).toBe(64);
    await store.close();
  });

  it("close() ends the store's WAIT connection and fails what it had not answered", async () => {
    const client = primary.client();
    const connections = async () =>
      String(await client.call('CLIENT', 'LIST'))
        .trim()
        .split('\n').length;
    const before = await connections();
    const store = replicated(client, 2000);
    await store.acquire(request('warm'));
    expect(await connections()).toBe(before + 1);
    link.stall();
    try {
      const pending = store.acquire(request('job')).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await store.close();
      expect(await pending).toBeInstanceOf(Error);
    } finally {
      link.heal('deliver');
    }
    await expect.poll(connections, { timeout: 2000 }).toBe(before);
  });

  it("its WAIT connection follows the caller's client to the database it SELECTed after the store was made", async () => {
    const client = primary.client();
    const store = replicated(client);
    await store.acquire(request('warm')); // its connection opens on db 0
    await client.select(3);
    const g = await store.acquire(request('job'));
    expect(g.acquired).toBe(true);
    expect(await store.read('job')).toMatchObject({ identity: 'me' }); // read on the caller's client
    const db3 = primary.client({ db: 3 });
    expect(await db3.exists(leaseKeys(store.namespace, 'job').lease)).toBe(1);
    // A member configured on db 3 sees it held; before, the lease went to db 0.
    const other = new RedisLeaseStore({ client: db3, namespace: store.namespace, waitReplicas: 1 });
    expect((await other.acquire(request('job'))).acquired).toBe(false);
    await other.close();
    await store.close();
  });

  it('stays on the SELECTed database when its WAIT connection reconnects (which puts it back on the one it was opened on)', async () => {
    const client = primary.client({ connectionName: 'selected-caller' });
    const store = replicated(client);
    await store.acquire(request('warm')); // its connections open on db 0
    await client.select(4);
    expect((await store.acquire(request('before'))).acquired).toBe(true);
    // Every connection of this client's name (the caller's and the store's) is cut.
    await primary.client().call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    expect((await store.acquire(request('after'))).acquired).toBe(true);
    const db4 = primary.client({ db: 4 });
    const key = (name: string) => leaseKeys(store.namespace, name).lease;
    expect(await db4.exists(key('before'), key('after'))).toBe(2);
    expect(await primary.client().exists(key('before'), key('after'))).toBe(0); // db 0
    await store.close();
  });

  it('with a lazyConnect client, the first write connects the WAIT connection at once', async () => {
    const client = primary.client({ lazyConnect: true, connectTimeout: 20_000 });
    const store = replicated(client);
    const started = performance.now();
    expect((await store.acquire(request('job'))).acquired).toBe(true);
    // A lazy duplicate waited for a 'ready' that nothing triggered: the connect timeout.
    expect(performance.now() - started).toBeLessThan(5000);
    await store.close();
  });

  it('with enableOfflineQueue: false, the first write waits for the new WAIT connection instead of failing', async () => {
    const client = primary.client({ enableOfflineQueue: false });
    await new Promise((resolve) => client.once('ready', resolve));
    const store = replicated(client);
    expect((await store.acquire(request('job'))).acquired).toBe(true);
    await store.close();
  });

  it('reopens its WAIT connection after it ended for good (its retries ran out), once the application reconnected the client', async () => {
    const front = await FaultProxy.start(primary.port);
    // No retries: a lost connection ends ('end'), for the client and for its duplicates.
    const client = new Redis({ host: '127.0.0.1', port: front.port, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      const store = replicated(client);
      expect((await store.acquire(request('warm'))).acquired).toBe(true);
      front.reset(); // every connection through the proxy is cut, and ends
      await expect.poll(() => client.status, { interval: 10 }).toBe('end');
      await client.connect(); // the application reconnects its client
      // Before, the ended duplicate stayed in use: every write failed with "Connection is closed."
      expect((await store.acquire(request('job'))).acquired).toBe(true);
      await store.close();
    } finally {
      client.disconnect();
      await front.close();
    }
  });

  it("opens its WAIT connections with the caller's reconnectOnError, except that 2 (resend the failed command) becomes 1 (reconnect only)", async () => {
    const reconnectOnError = (error: Error): boolean | 1 | 2 =>
      error.message.startsWith('READONLY') ? 2 : error.message.startsWith('LOADING');
    const client = primary.client({ reconnectOnError });
    const opened: { reconnectOnError?: ((error: Error) => boolean | 1 | 2) | null | undefined }[] =
      [];
    const duplicate = client.duplicate.bind(client);
    client.duplicate = (override) => {
      opened.push(override ?? {});
      return duplicate(override);
    };
    const store = replicated(client);
    expect((await store.acquire(request('job'))).acquired).toBe(true);
    expect(opened.length).toBeGreaterThan(0);
    for (const options of opened) {
      // A resend would run the script alone on a new connection, after its WAIT was answered.
      expect(options.reconnectOnError?.(new Error("READONLY You can't write"))).toBe(1);
      expect(options.reconnectOnError?.(new Error('LOADING'))).toBe(true);
      expect(options.reconnectOnError?.(new Error('ERR other'))).toBe(false);
    }
    await store.close();
  });

  it('close() settles writes queued while the WAIT connection reconnects', async () => {
    const front = await FaultProxy.start(primary.port);
    const client = new Redis({ host: '127.0.0.1', port: front.port, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    try {
      const store = replicated(client);
      expect((await store.acquire(request('warm'))).acquired).toBe(true);
      front.refuse(true);
      front.reset(); // both connections lost; reconnecting, refused
      await new Promise((resolve) => setTimeout(resolve, 100));
      const pending = [store.acquire(request('a')), store.acquire(request('b'))].map((p) =>
        p.then(
          () => 'acquired',
          (e: unknown) => (e as { code?: string }).code,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await store.close();
      // ioredis does not fail what it queued while reconnecting when disconnected then.
      expect(await Promise.all(pending)).toEqual([
        'TENURE_STORE_UNAVAILABLE',
        'TENURE_STORE_UNAVAILABLE',
      ]);
    } finally {
      client.disconnect();
      await front.close();
    }
  });

  it('warns when replicas exist and waitReplicas is 0', async () => {
    const store = new RedisLeaseStore({ client: primary.client(), namespace: uniqueNamespace() });
    const warnings = await store.diagnose();
    expect(warnings.join('\n')).toMatch(/1 replica\(s\) and waitReplicas is 0/);
    await store.close();
  });
});
