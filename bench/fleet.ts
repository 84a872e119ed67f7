/**
 * Scenario 7: fleet scale in one process on one shared connection.
 * - `electors`: N electors (defaults: ttlMs 15000, renewMs 5000) on one
 *   election; one leads, the rest follow.
 * - `locks`: N distinct locks held and auto-refreshed (ttlMs 30000, refresh
 *   every 10000).
 * Measured over a window after start-up: Redis scripts per second (INFO
 * commandstats), client CPU % of one core, event-loop delay (p50, p99, max),
 * and memory per elector / lock (RSS and V8 heap after a full GC, beyond the
 * baseline before creating them; for locks the baseline is taken after one
 * warm-up round of acquiring and releasing them all; needs `node
 * --expose-gc`, which `npm run bench` passes).
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Elector, type Lock, Locker, RedisLeaseStore } from '../src/index.js';
import { scriptCalls } from './harness.js';

export interface FleetResult {
  readonly count: number;
  readonly windowMs: number;
  readonly scriptsPerSecond: number;
  readonly cpuPercent: number;
  readonly loopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Longest garbage-collection pause in the window, which explains most of the max delay. */
  readonly longestGcMs: number;
  readonly rssBytesPer: number;
  readonly heapBytesPer: number;
  readonly gc: boolean;
}

const RESOLUTION_MS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gc = (globalThis as { gc?: () => void }).gc;

function memory(): { rss: number; heap: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

async function window(
  admin: Redis,
  count: number,
  windowMs: number,
  base: { rss: number; heap: number },
  loaded: { rss: number; heap: number },
): Promise<FleetResult> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  let longestGcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longestGcMs = Math.max(longestGcMs, entry.duration);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const s0 = await scriptCalls(admin);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  histogram.enable();
  await sleep(windowMs);
  histogram.disable();
  gcObserver.disconnect();
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const s1 = await scriptCalls(admin);
  return {
    count,
    windowMs: elapsed,
    scriptsPerSecond: ((s1 - s0) * 1000) / elapsed,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / elapsed) * 100,
    // The histogram records whole sampling intervals; the delay is what exceeds the resolution.
    loopDelayMs: {
      p50: Math.max(0, histogram.percentile(50) / 1e6 - RESOLUTION_MS),
      p99: Math.max(0, histogram.percentile(99) / 1e6 - RESOLUTION_MS),
      max: Math.max(0, histogram.max / 1e6 - RESOLUTION_MS),
    },
    longestGcMs,
    rssBytesPer: (loaded.rss - base.rss) / count,
    heapBytesPer: (loaded.heap - base.heap) / count,
    gc: gc !== undefined,
  };
}

/** One connection and one store on a fresh namespace, as a fleet member would have. */
async function connect(port: number, prefix: string) {
  const client = new Redis({ host: '127.0.0.1', port });
  await client.ping();
  const store = new RedisLeaseStore({ client, namespace: `${prefix}-${Date.now()}` });
  const close = async (): Promise<void> => {
    await store.close();
    client.disconnect();
  };
  return { store, close };
}

export async function fleetElectors(
  port: number,
  admin: Redis,
  count: number,
  windowMs: number,
): Promise<FleetResult> {
  const { store, close } = await connect(port, 'fleet');
  const base = memory();
  const electors = Array.from(
    { length: count },
    (_, i) => new Elector({ store, election: 'fleet', identity: `e${i}` }),
  );
  await Promise.all(electors.map((e) => e.start()));
  await sleep(1000);
  const loaded = memory();
  try {
    return await window(admin, count, windowMs, base, loaded);
  } finally {
    await Promise.all(electors.map((e) => e.stop()));
    await close();
  }
}

export async function fleetLocks(
  port: number,
  admin: Redis,
  count: number,
  windowMs: number,
): Promise<FleetResult> {
  const { store, close } = await connect(port, 'locks');
  const locker = new Locker(store);
  const acquireAll = async (): Promise<Lock[]> => {
    const locks: Lock[] = [];
    for (let i = 0; i < count; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, j) =>
          locker.tryLock(`lock-${i + j}`, { ttlMs: 30_000 }),
        ),
      );
      for (const lock of batch) if (lock) locks.push(lock);
    }
    if (locks.length !== count)
      throw new Error(`fleet bench: ${count - locks.length} locks not acquired`);
    return locks;
  };
  // Warm-up: acquire and release every lock once, so the baseline already includes the
  // heap the acquisition path grows into (V8 keeps it after GC); what is left is retained per lock.
  for (const lock of await acquireAll()) await lock.release();
  const base = memory();
  const locks = await acquireAll();
  const loaded = memory();
  try {
    return await window(admin, count, windowMs, base, loaded);
  } finally {
    for (let i = 0; i < locks.length; i += 500)
      await Promise.all(locks.slice(i, i + 500).map((l) => l.release()));
    await close();
  }
}
