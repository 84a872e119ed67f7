/**
 * Runs a cron schedule only on the leader. croner does the calendar math;
 * the elector decides who may fire. Each fire is claimed in the run ledger
 * with the leader's term before the job runs, and a new leader catches up
 * the fires it missed during the fail-over (within `catchUpMs`), so every
 * scheduled fire in the window runs exactly once.
 */
import { Cron } from 'croner';
import type { Elector } from '../../src/index.js';
import type { ClaimResult, RunLedger } from './ledger.js';

export interface Fire {
  readonly job: string;
  /** The scheduled time (ms since epoch): the fire's identity. */
  readonly fireAt: number;
  readonly term: number;
  /** Aborted when leadership ends: stop the work. */
  readonly signal: AbortSignal;
  /** Run after its time, catching up a fire missed during a fail-over. */
  readonly late: boolean;
}

export interface ScheduleOptions {
  elector: Elector;
  ledger: RunLedger;
  job: string;
  /** croner pattern; six fields allow seconds, e.g. '*\/2 * * * * *'. */
  pattern: string;
  /** How far back a new leader catches up missed fires. */
  catchUpMs: number;
  run: (fire: Fire) => Promise<void> | void;
  onClaim?: (fire: Omit<Fire, 'signal'>, result: ClaimResult) => void;
}

/** Starts scheduling on every election of `elector`; returns a function that stops it. */
export function scheduleWhileLeader(o: ScheduleOptions): () => void {
  const cron = new Cron(o.pattern); // no callback: used for calendar math only
  return o.elector.runWhileLeader(async (signal, term) => {
    // Catch up after the last recorded fire (at most catchUpMs back); a fresh ledger starts now.
    const last = await o.ledger.lastFire(o.job);
    let cursor = last === null ? Date.now() : Math.max(Date.now() - o.catchUpMs, last);
    while (!signal.aborted) {
      const next = cron.nextRun(new Date(cursor));
      if (!next) return;
      const fireAt = next.getTime();
      if (fireAt > Date.now() && !(await sleep(fireAt - Date.now(), signal))) return;
      // Check right before acting: leadership is computed from the monotonic deadline.
      if (!o.elector.isLeader) return;
      const late = Date.now() - fireAt > 1000;
      const result = await o.ledger.claim(o.job, fireAt, term, o.elector.identity);
      o.onClaim?.({ job: o.job, fireAt, term, late }, result);
      if (result === 'claimed') await o.run({ job: o.job, fireAt, term, signal, late });
      cursor = fireAt;
    }
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
