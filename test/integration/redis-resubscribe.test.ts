/**
 * The Redis store's pub/sub connection after a reconnect: tenure
 * re-subscribes itself (ioredis's own re-subscription leaves its SUBSCRIBE
 * promise unhandled, so closing the store while it is pending produced an
 * unhandled "Connection is closed." rejection in the application, seen in
 * two CI runs), and listeners are woken to re-read.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LeaseEventDetail } from '../../src/lock/lease-store.js';
import { RedisLeaseStore } from '../../src/lock/redis/redis-store.js';
import { FaultProxy } from '../fault/proxy.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(() => server.stop());

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

it('re-subscribes after a reconnect and wakes listeners to re-read', async () => {
  const proxy = await FaultProxy.start(server.port);
  try {
    const client = server.client({ port: proxy.port, retryStrategy: () => 20 });
    const store = new RedisLeaseStore({ client, namespace: uniqueNamespace() });
    const details: (LeaseEventDetail | undefined)[] = [];
    await store.subscribe('job', (_event, detail) => details.push(detail));
    proxy.reset(); // the pub/sub connection drops and reconnects
    await expect.poll(() => details, { timeout: 3000 }).toContainEqual({ interrupted: true });
    await store.close();
  } finally {
    await proxy.close();
  }
});

it('closing the store while the re-subscription after a reconnect is unanswered leaves no unhandled rejection', async () => {
  process.on('unhandledRejection', onUnhandled);
  const proxy = await FaultProxy.start(server.port);
  try {
    const client = server.client({ port: proxy.port, retryStrategy: () => 20 });
    const store = new RedisLeaseStore({ client, namespace: uniqueNamespace() });
    await store.subscribe('job', () => undefined);
    proxy.dropRepliesFrom('subscribe', 1000); // the next SUBSCRIBE is never answered
    proxy.reset();
    await new Promise((r) => setTimeout(r, 300)); // reconnected, SUBSCRIBE sent, no reply
    await store.close();
    client.disconnect();
    await new Promise((r) => setTimeout(r, 1200));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await proxy.close();
  }
});
