/**
 * What the FIFO tests record of each acquire (sent and answered on this
 * process's clock, with its ticket and outcome), and the check of arrival
 * order against grant order, and the contention both run. Shared by the Redis and etcd
 * FIFO tests.
 */
import type { AcquireRequest, AcquireResult, LeaseStore } from '../../src/lock/lease-store.js';
import type { Locker } from '../../src/lock/locker.js';

/** One acquire as the store saw it: when it was sent and answered, and what it said. */
export interface Attempt {
  /** Which worker (store) sent it. */
  readonly worker: number;
  readonly ticket: string | undefined;
  readonly sentAt: number;
  readonly answeredAt: number;
  readonly acquired: boolean;
}

/** The store, with every acquire recorded (sent/answered on this process's clock). */
export function recording<S extends LeaseStore>(store: S, log: Attempt[], worker = 0): LeaseStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'acquire') {
        return async (request: AcquireRequest): Promise<AcquireResult> => {
          const sentAt = performance.now();
          const result = await target.acquire(request);
          log.push({
            worker,
            ticket: request.ticket,
            sentAt,
            answeredAt: performance.now(),
            acquired: result.acquired,
          });
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

/**
 * Arrival order, proved on this process's clock: call A arrived before call B
 * when A's first refused attempt was answered before B's first attempt was
 * sent (so the server queued A's ticket first). Returns the pairs whose grants
 * came in the opposite order.
 */
export function overtakes(log: Attempt[], grantOrder: string[]): string[] {
  const firstRefusal = new Map<string, Attempt>();
  const firstSent = new Map<string, number>();
  for (const a of log) {
    if (a.ticket === undefined) continue;
    if (!firstSent.has(a.ticket)) firstSent.set(a.ticket, a.sentAt);
    if (!a.acquired && !firstRefusal.has(a.ticket)) firstRefusal.set(a.ticket, a);
  }
  const rank = new Map(grantOrder.map((t, i) => [t, i]));
  const wrong: string[] = [];
  for (const [a, refusal] of firstRefusal) {
    for (const [b, sent] of firstSent) {
      if (a === b || !firstRefusal.has(b) || refusal.answeredAt >= sent) continue;
      const ra = rank.get(a);
      const rb = rank.get(b);
      if (ra !== undefined && rb !== undefined && rb < ra) wrong.push(`${b} before ${a}`);
    }
  }
  return wrong;
}

/** What `contend` saw: grants per worker, tickets in grant order, and overlaps of holders. */
export interface Contention {
  readonly perWorker: number[];
  /** The ticket of each grant, in grant order (see `overtakes`). */
  readonly grants: string[];
  /** Grants made while another worker held the lock (must be 0). */
  readonly overlap: number;
}

/**
 * Each locker (worker `w` records as `w`, see `recording`) locks `name` again
 * at once after each release, holding it 1 ms, for `durationMs` or `rounds`
 * locks, whichever ends first.
 */
export async function contend(
  lockers: readonly Locker[],
  log: Attempt[],
  name: string,
  durationMs: number,
  rounds: number,
): Promise<Contention> {
  const grants: string[] = [];
  const perWorker = Array<number>(lockers.length).fill(0);
  let holders = 0;
  let overlap = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    lockers.map(async (locker, w) => {
      for (let i = 0; i < rounds && performance.now() < end; i++) {
        const before = log.length;
        const lock = await locker.lock(name, { ttlMs: 10_000, retryMs: 10, retryJitterMs: 10 });
        // This call's ticket: on its latest attempt (a release may have granted it the
        // lock directly, after that attempt).
        const latest = log.slice(before).findLast((a) => a.worker === w);
        grants.push(latest?.ticket ?? `untracked-${w}-${i}`);
        if (++holders > 1) overlap++;
        perWorker[w] = (perWorker[w] ?? 0) + 1;
        await new Promise((resolve) => setTimeout(resolve, 1));
        holders--;
        await lock.release();
      }
    }),
  );
  return { perWorker, grants, overlap };
}

/**
 * Delays each of `store`'s acquires by `ms` before it is sent (a slow
 * network): with a shorter `requestTimeoutMs`, the caller gives up on the
 * attempt while it is still to come. Returns the calls, settled or not.
 */
export function delayAcquires(store: LeaseStore, ms: number): Promise<unknown>[] {
  const acquire = store.acquire.bind(store);
  const calls: Promise<unknown>[] = [];
  store.acquire = (request: AcquireRequest): Promise<AcquireResult> => {
    const call = new Promise((resolve) => setTimeout(resolve, ms)).then(() => acquire(request));
    calls.push(call.catch(() => undefined));
    return call;
  };
  return calls;
}
