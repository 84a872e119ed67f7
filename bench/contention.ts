/**
 * Scenario 3: 16 workers, each with its own connection (as separate
 * instances would be), contend for one key: acquire with retries every
 * 10 ms ± 5 ms (each library's own retry options; a fixed 10 ms where it has
 * no jitter), give up after 500 ms, hold 1 ms, release, repeat. Counted:
 * acquisitions per second, per-worker minimum and maximum (a worker with 0
 * starved), hand-offs (consecutive acquisitions by different workers),
 * give-ups, and the commands the workers' connections sent.
 */
import { Redlock as SesameRedlock } from '@sesamecare-oss/redlock';
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { Mutex } from 'redis-semaphore';
import { IoredisAdapter, createLock } from 'redlock-universal';
import { Locker, RedisLeaseStore } from '../src/index.js';

/** Acquires `key` (waiting as the library does) and returns its release. */
type Acquire = (key: string) => Promise<() => Promise<unknown>>;

export interface Contender {
  readonly name: string;
  /** One per worker, each on its own client; `close` frees what the library opened. */
  worker(client: Redis): Acquire & { close?: () => Promise<void> };
}

const TTL = 10_000;
const RETRY = 10;
const JITTER = 5;
/** Give up one acquisition after this long (counted as a timeout; the worker tries again). */
const GIVE_UP_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export const contenders: Contender[] = [
  {
    name: 'raw ioredis (SET NX PX, fixed 10 ms retry)',
    worker: (client) => async (key) => {
      const token = `${Math.random()}`;
      const end = performance.now() + GIVE_UP_MS;
      while ((await client.set(key, token, 'PX', TTL, 'NX')) !== 'OK') {
        if (performance.now() >= end) throw new Error('gave up');
        await sleep(RETRY);
      }
      return () => client.eval(RELEASE, 1, key, token);
    },
  },
  {
    name: 'tenure Locker.lock',
    worker: (client) => {
      const store = new RedisLeaseStore({ client, namespace: 'contend' });
      const locker = new Locker(store);
      const acquire: Acquire = async (key) => {
        const lock = await locker.lock(key, {
          ttlMs: TTL,
          retryMs: RETRY - JITTER,
          retryJitterMs: 2 * JITTER,
          signal: AbortSignal.timeout(GIVE_UP_MS),
        });
        return () => lock.release();
      };
      return Object.assign(acquire, { close: () => store.close() });
    },
  },
  {
    name: 'redlock 5.0.0-beta.2',
    worker: (client) => {
      const r = new Redlock([client], {
        retryCount: GIVE_UP_MS / RETRY,
        retryDelay: RETRY,
        retryJitter: JITTER,
      });
      return async (key) => {
        const lock = await r.acquire([key], TTL);
        return () => lock.release();
      };
    },
  },
  {
    name: '@sesamecare-oss/redlock 1.4.0',
    worker: (client) => {
      const r = new SesameRedlock([client], {
        retryCount: GIVE_UP_MS / RETRY,
        retryDelay: RETRY,
        retryJitter: JITTER,
      });
      return async (key) => {
        const lock = await r.acquire([key], TTL);
        return () => lock.release();
      };
    },
  },
  {
    name: 'redis-semaphore 5.8.0 Mutex',
    worker: (client) => async (key) => {
      const mutex = new Mutex(client, key, {
        lockTimeout: TTL,
        acquireTimeout: GIVE_UP_MS,
        retryInterval: RETRY,
        refreshInterval: TTL / 3,
      });
      await mutex.acquire();
      return () => mutex.release();
    },
  },
  {
    name: 'redlock-universal 0.8.5 (lean)',
    worker: (client) => {
      const adapter = new IoredisAdapter(client);
      return async (key) => {
        const lock = createLock({
          adapter,
          key,
          ttl: TTL,
          retryAttempts: GIVE_UP_MS / RETRY,
          retryDelay: RETRY,
          performance: 'lean',
        });
        const handle = await lock.acquire();
        return () => lock.release(handle);
      };
    },
  },
];

export interface ContentionResult {
  readonly acquisitions: number;
  readonly wallMs: number;
  readonly perWorker: number[];
  readonly handoffs: number;
  /** Acquisitions given up after GIVE_UP_MS. */
  readonly timeouts: number;
  /** Commands the workers' connections sent (round trips, pipelining aside). */
  readonly sent: number;
  /** Client CPU of this process during the round, µs. */
  readonly clientCpuUs: number;
}

/** One round: `workers` loops until `durationMs` has passed, then each finishes its current turn. */
export async function contend(
  contender: Contender,
  port: number,
  workers: number,
  durationMs: number,
  key: string,
  /** One client and one library instance for all workers (concurrent requests of one service). */
  shared = false,
): Promise<ContentionResult> {
  const clients = Array.from(
    { length: shared ? 1 : workers },
    () => new Redis({ host: '127.0.0.1', port }),
  );
  await Promise.all(clients.map((c) => c.ping()));
  let sent = 0;
  for (const c of clients) {
    const original = c.sendCommand.bind(c);
    c.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
      sent++;
      return original(...args);
    };
  }
  const one = shared ? contender.worker(clients[0] as Redis) : undefined;
  const acquires = Array.from(
    { length: workers },
    (_, w) => one ?? contender.worker(clients[w] as Redis),
  );
  const perWorker = Array<number>(workers).fill(0);
  let last = -1;
  let handoffs = 0;
  let timeouts = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + durationMs;
  await Promise.all(
    acquires.map(async (acquire, w) => {
      while (performance.now() < end) {
        let release: () => Promise<unknown>;
        try {
          release = await acquire(key);
        } catch {
          timeouts++;
          continue;
        }
        perWorker[w] = (perWorker[w] ?? 0) + 1;
        if (last !== -1 && last !== w) handoffs++;
        last = w;
        await sleep(1);
        await release();
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  for (const a of new Set(acquires)) await a.close?.();
  for (const c of clients) c.disconnect();
  return {
    acquisitions: perWorker.reduce((a, b) => a + b, 0),
    wallMs,
    perWorker,
    handoffs,
    timeouts,
    sent,
    clientCpuUs: cpu.user + cpu.system,
  };
}
