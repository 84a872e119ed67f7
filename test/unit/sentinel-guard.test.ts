/**
 * The Sentinel guard's decisions (src/lock/redis/sentinel-guard.ts) on a
 * client that emits ioredis's status events: it reconnects only a Sentinel
 * client that ioredis ended straight from `connecting`, never one the
 * application closed. The race itself runs against real sentinels in
 * test/integration/redis-sentinel-guard.test.ts.
 */
import { EventEmitter } from 'node:events';
import { expect, it } from 'vitest';
import { guardSentinelClient } from '../../src/lock/redis/sentinel-guard.js';

class FakeClient extends EventEmitter {
  status = 'ready';
  manuallyClosing = false;
  connects = 0;
  /** ioredis's SentinelConnector: the failover detector's disconnect() clears `connecting`. */
  readonly connector = { connecting: true };
  constructor(readonly options: Record<string, unknown>) {
    super();
  }
  to(status: string): void {
    this.status = status;
    this.emit(status);
  }
  connect(): Promise<void> {
    this.connects++;
    this.to('connecting');
    return Promise.resolve();
  }
}

const sentinel = {
  sentinels: [{ host: '127.0.0.1', port: 1 }],
  sentinelRetryStrategy: () => 50,
  retryStrategy: () => 1,
};
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

it('reconnects a Sentinel client that went from connecting to end on its own', async () => {
  const c = new FakeClient(sentinel);
  let revived = 0;
  const unguard = guardSentinelClient(c, () => revived++);
  c.to('close');
  c.to('reconnecting');
  c.to('connecting');
  c.connector.connecting = false; // the detector's disconnect() during the sentinel query
  c.to('end');
  await settle();
  expect([c.connects, revived]).toEqual([1, 1]);
  unguard();
  expect(c.listenerCount('end')).toBe(0);
});

it.each([
  ['quit() or disconnect() of a connected client (close, then end)', ['close', 'end'], false],
  [
    'disconnect() while it asks a sentinel (manuallyClosing stays set)',
    ['connecting', 'end'],
    true,
  ],
  ['disconnect() while it waits to reconnect (ioredis 6.1)', ['reconnecting', 'end'], false],
])('leaves alone a client the application closed: %s', async (_, statuses, manually) => {
  const c = new FakeClient(sentinel);
  guardSentinelClient(c, () => undefined);
  c.manuallyClosing = manually;
  for (const s of statuses) c.to(s);
  await settle();
  expect(c.connects).toBe(0);
});

it('leaves ended a client whose sentinel retries ran out (its connector still connecting)', async () => {
  const c = new FakeClient({
    ...sentinel,
    sentinelRetryStrategy: (n: number) => (n > 2 ? null : 10),
  });
  guardSentinelClient(c, () => undefined);
  c.to('connecting');
  c.to('end'); // "All sentinels are unreachable and retry is disabled": connecting stays true
  await settle();
  expect(c.connects).toBe(0);
});

it('does not reconnect a client the application closed after it ended, within the delay', async () => {
  const c = new FakeClient({ ...sentinel, retryStrategy: () => 10 });
  guardSentinelClient(c, () => undefined);
  c.to('connecting');
  c.connector.connecting = false;
  c.to('end');
  c.manuallyClosing = true; // disconnect() on the ended client
  await settle();
  expect(c.connects).toBe(0);
});

it('does nothing for a client that is not a Sentinel client, or whose retries are off', async () => {
  const plain = new FakeClient({});
  guardSentinelClient(plain, () => undefined);
  expect(plain.listenerCount('end')).toBe(0);
  const noRetry = new FakeClient({ ...sentinel, sentinelRetryStrategy: null });
  guardSentinelClient(noRetry, () => undefined);
  noRetry.to('connecting');
  noRetry.connector.connecting = false;
  noRetry.to('end');
  const noReconnect = new FakeClient({ ...sentinel, retryStrategy: () => null });
  guardSentinelClient(noReconnect, () => undefined);
  noReconnect.to('connecting');
  noReconnect.connector.connecting = false;
  noReconnect.to('end');
  await settle();
  expect([noRetry.connects, noReconnect.connects]).toEqual([0, 0]);
});
