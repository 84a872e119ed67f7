/**
 * Real server answers that say "not now" or "misconfigured" (issue 10,
 * items 4, 5 and 6), on private redis-servers:
 * - `BUSY` during renewals (a long script, low `busy-reply-threshold`) keeps
 *   the lock valid and renewing once the server answers;
 * - a failed `WAIT` (ACL without +wait, a server without WAIT) is a typed
 *   configuration error, never "0 replicas" retried forever;
 * - a pub/sub connection that never answers (ioredis offline queue in front
 *   of a socket that accepts and stays silent) leaves `start()`/`stop()`
 *   settling and `lock({ signal })` rejecting promptly after abort.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { ConfigurationError, PermissionError } from '../../src/errors.js';
import { Locker } from '../../src/lock/locker.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { FaultProxy } from '../fault/proxy.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('BUSY during renewals', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start(['--busy-reply-threshold', '100']);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('keeps the lock valid through BUSY replies and renews once the server answers', async () => {
    const store = new RedisLeaseStore({ client: server.client(), namespace: uniqueNamespace() });
    const locker = new Locker(store);
    const lock = await locker.lock('busy', {
      ttlMs: 3000,
      renewMs: 200,
      requestTimeoutMs: 1000,
    });
    // A script that spins for 700 ms: after 100 ms every other command gets BUSY.
    const spinner = server.client({ maxRetriesPerRequest: 0 });
    const spin = spinner.eval(
      `local t = redis.call('TIME')
       while true do
         local n = redis.call('TIME')
         if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 700000 then return 1 end
       end`,
      0,
    );
    const probe = server.client({ maxRetriesPerRequest: 0 });
    await sleep(150);
    await expect(probe.ping()).rejects.toThrow(/^BUSY/); // the fault is real
    await spin;
    await sleep(600); // renewals go through again
    expect(lock.isValid).toBe(true);
    expect(lock.signal.aborted).toBe(false);
    expect(lock.remainingMs).toBeGreaterThan(2000); // renewed after the script ended
    expect(await lock.release()).toBe(true);
    await store.close();
  });
});

describe('WAIT that fails', () => {
  let server: RedisServer;
  let renamed: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
    renamed = await RedisServer.start(['--rename-command', 'WAIT', '""']);
    await server
      .client()
      .call('ACL', 'SETUSER', 'nowait', 'on', 'nopass', '~*', '&*', '+@all', '-wait');
  });
  afterAll(async () => {
    await server.stop();
    await renamed.stop();
  });

  const request = () => ({
    name: 'w',
    token: OwnershipToken.generate(),
    ttlMs: 5000,
    identity: 'me',
    data: '',
  });

  it('an ACL without +wait is a PermissionError and the grant is handed back', async () => {
    const client = server.client({ username: 'nowait', password: 'x' });
    const store = new RedisLeaseStore({ client, namespace: uniqueNamespace(), waitReplicas: 1 });
    await expect(store.acquire(request())).rejects.toBeInstanceOf(PermissionError);
    await sleep(50);
    expect(await store.read('w')).toBeNull();
    await store.close();
  });

  it('a server without WAIT is a ConfigurationError', async () => {
    const store = new RedisLeaseStore({
      client: renamed.client(),
      namespace: uniqueNamespace(),
      waitReplicas: 1,
    });
    const error: unknown = await store.acquire(request()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/WAIT/);
    await store.close();
  });
});

describe('a pub/sub connection that never answers', () => {
  let server: RedisServer;
  let silent: Server;
  let silentPort = 0;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = await RedisServer.start();
    // Accepts connections and never answers: ioredis keeps SUBSCRIBE in its offline queue.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    silentPort = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await server.stop();
  });

  /** A store whose commands work and whose subscriber connection hangs (BullMQ-style options). */
  function hangingStore(): RedisLeaseStore {
    const client = server.client();
    client.duplicate = () => {
      const subscriber = new Redis({
        host: '127.0.0.1',
        port: silentPort,
        maxRetriesPerRequest: null,
        enableReadyCheck: true,
      });
      subscriber.on('error', () => undefined);
      return subscriber;
    };
    return new RedisLeaseStore({ client, namespace: uniqueNamespace() });
  }

  it('start() and stop() settle', async () => {
    const store = hangingStore();
    const elector = new Elector({ store, election: 'hang', ttlMs: 1500, retryMs: 200 });
    elector.on('error', () => undefined);
    const began = Date.now();
    await elector.start(); // bounded by requestTimeoutMs (renewMs = 500)
    expect(elector.isLeader).toBe(true);
    await elector.stop();
    expect(Date.now() - began).toBeLessThan(1500);
    await store.close();
  });

  it('lock({ signal }) rejects promptly after abort', async () => {
    const store = hangingStore();
    const other = new Locker(store);
    const held = await other.lock('hang-lock', { ttlMs: 10_000 });
    const controller = new AbortController();
    const locking = new Locker(store, { requestTimeoutMs: 5000 }).lock('hang-lock', {
      signal: controller.signal,
    });
    await sleep(100);
    const abortedAt = Date.now();
    controller.abort(new Error('gave up'));
    await expect(locking).rejects.toThrow('gave up');
    expect(Date.now() - abortedAt).toBeLessThan(100);
    await held.release();
    await store.close();
  });
});

describe('an acquisition ioredis sends again after its reply was lost', () => {
  let server: RedisServer;
  let proxy: FaultProxy;
  beforeAll(async () => {
    server = await RedisServer.start();
    proxy = await FaultProxy.start(server.port);
  });
  afterAll(async () => {
    await proxy.close();
    await server.stop();
  });

  it('is granted to its caller (same token: the same attempt), not refused with the caller as holder', async () => {
    // The connection resets with the script applied and unanswered; ioredis resends it.
    const client = server.client({ port: proxy.port, maxRetriesPerRequest: 5 });
    client.on('error', () => undefined);
    const store = new RedisLeaseStore({ client, namespace: uniqueNamespace() });
    try {
      // Loads the script: the resent attempt must be one that ran, not a NOSCRIPT.
      await store.acquire({
        name: 'warm',
        token: OwnershipToken.generate(),
        ttlMs: 5000,
        identity: 'me',
        data: '',
      });
      proxy.dropRepliesFrom('evalsha', 200);
      const token = OwnershipToken.generate();
      const got = await store.acquire({
        name: 'job',
        token,
        ttlMs: 5000,
        identity: 'me',
        data: '',
      });
      // Before, the second run found the lease held (by this very attempt) and refused it,
      // and the lease stayed for its ttl under a token nobody used.
      expect(got.acquired).toBe(true);
      if (!got.acquired) return;
      expect(await store.renew({ name: 'job', token, term: got.term }, 5000)).toBe('renewed');
      expect(await store.release({ name: 'job', token, term: got.term })).toBe(true);
    } finally {
      await store.close();
      client.disconnect();
    }
  });
});
