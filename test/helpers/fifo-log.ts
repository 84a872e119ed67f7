/**
 * What the FIFO tests record of each acquire (sent and answered on this
 * process's clock, with its ticket and outcome), and the check of arrival
 * order against grant order. Shared by the Redis and etcd FIFO tests.
 */
import type { AcquireRequest, AcquireResult, LeaseStore } from '../../src/lock/lease-store.js';

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
