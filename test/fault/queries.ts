/** Queries over a scenario's merged history, shared by the fault suites of every backend. */
import { msBetween } from './harness.js';
import type { HistoryEvent } from './history.js';
import type { Result } from './scenario-runner.js';

export const evs = <K extends HistoryEvent['ev']>(r: Result, ev: K, proc?: string) =>
  r.history.filter(
    (e): e is Extract<HistoryEvent, { ev: K }> =>
      e.ev === ev && (proc === undefined || e.proc === proc),
  );
export const terms = (r: Result): number[] => [
  ...new Set(evs(r, 'became_leader').map((e) => e.term)),
];
export const t = (e: { t: string }): bigint => BigInt(e.t);
/** Step-down of `proc` after `from`, with the lateness past the term's last recorded deadline (ms). */
export function stepDown(r: Result, proc: string, from: bigint) {
  const down = evs(r, 'stepped_down', proc).find((e) => t(e) >= from);
  if (!down) return undefined;
  const interval = r.intervals.find((i) => i.proc === proc && i.term === down.term);
  const deadline = [...evs(r, 'became_leader', proc), ...evs(r, 'deadline', proc)]
    .filter((e) => e.term === down.term)
    .map((e) => BigInt(e.deadline))
    .pop();
  return {
    down,
    deadline,
    lateMs: deadline === undefined ? NaN : msBetween(deadline, t(down)),
    interval,
  };
}

/** Terms that began before `at`, and the first term that began after it. */
export function termsAround(
  r: Result,
  at: bigint,
): { before: number[]; after: number | undefined } {
  const began = evs(r, 'became_leader');
  return {
    before: began.filter((e) => t(e) < at).map((e) => e.term),
    after: began.find((e) => t(e) > at)?.term,
  };
}
