/**
 * Claims 1, 5, 6 on a real (private) redis-server: after stop() no channel stays subscribed
 * (PUBSUB NUMSUB), including when the SUBSCRIBE was answered late (server paused with SIGSTOP
 * while the elector subscribed).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Elector } from '../../src/election/elector.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await RedisServer.start();
  admin = server.client();
});
afterAll(async () => {
  server.signal('SIGCONT');
  await server.stop();
});

const numsub = async (channel: string): Promise<number> =>
  Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]);

const make = (store: RedisLeaseStore, identity: string) =>
  new Elector({
    store,
    election: 'job',
    identity,
    ttlMs: 1000,
    renewMs: 250,
    retryMs: 100,
    requestTimeoutMs: 200,
  });

it('two electors on one store; stop one, then the other: the channel is unsubscribed without store.close()', async () => {
  const store = new RedisLeaseStore({ client: server.client(), namespace: 'r14a' });
  const a = make(store, 'a');
  const b = make(store, 'b');
  await Promise.all([a.start(), b.start()]);
  const channel = '{r14a:job}:events';
  expect(await numsub(channel)).toBe(1);
  await a.stop();
  await new Promise((r) => setTimeout(r, 100));
  expect(await numsub(channel), 'b still subscribed').toBe(1);
  await b.stop();
  await new Promise((r) => setTimeout(r, 100));
  expect(await numsub(channel), 'after both stopped').toBe(0);
  await store.close();
});

it('SUBSCRIBE answered after the elector gave up on it (server paused) is undone after stop()', async () => {
  const store = new RedisLeaseStore({ client: server.client(), namespace: 'r14b' });
  const e = make(store, 'a');
  server.signal('SIGSTOP');
  const starting = e.start(); // the duplicate() connection cannot even connect; subscribe times out (200 ms)
  await new Promise((r) => setTimeout(r, 500));
  const stopping = e.stop();
  await new Promise((r) => setTimeout(r, 100));
  server.signal('SIGCONT');
  await starting;
  await stopping;
  await new Promise((r) => setTimeout(r, 500));
  expect(await numsub('{r14b:job}:events')).toBe(0);
  await store.close();
});
