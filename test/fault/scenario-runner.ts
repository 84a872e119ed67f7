/**
 * Wraps a scenario: start, act, finish, require the safety checkers (unless it
 * is a must-fire scenario) and hygiene to report nothing, and append a summary
 * line to .tmp/fault-summary.jsonl for the results table in docs/safety.md.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { expect } from 'vitest';
import { type Scenario as S, Scenario, type ScenarioOptions } from './harness.js';
import type { HistoryEvent } from './history.js';

export type Result = Awaited<ReturnType<S['finish']>>;

export async function scenario(
  options: ScenarioOptions,
  act: (s: S) => Promise<void>,
  check: (r: Result, s: S) => void | Promise<void>,
  safe = true,
): Promise<Result> {
  const s = await Scenario.start(options);
  let failed = true;
  try {
    await act(s);
    const r = await s.finish();
    summarize(r, safe);
    if (safe) {
      expect(r.overlaps, 'at most one leader').toEqual([]);
      expect(r.containment, 'containment (deadline rule)').toEqual([]);
      expect(r.fencing, 'fencing').toEqual([]);
      expect(r.resurrection, 'no resurrection').toEqual([]);
    }
    expect(r.hygiene, 'hygiene').toEqual([]);
    await check(r, s);
    failed = false;
    return r;
  } finally {
    await s.close(failed);
  }
}

/** Overlaps, worst step-down lateness past a deadline, and time from the first fault to the next election. */
function summarize(r: Result, safe: boolean): void {
  const deadlines = new Map<string, bigint>();
  let worstLateMs = 0;
  for (const e of r.history) {
    if (e.ev === 'became_leader' || e.ev === 'deadline')
      deadlines.set(`${e.proc}/${e.term}`, BigInt(e.deadline));
    if (e.ev === 'stepped_down' && e.reason === 'deadline') {
      const d = deadlines.get(`${e.proc}/${e.term}`);
      if (d !== undefined) worstLateMs = Math.max(worstLateMs, Number(BigInt(e.t) - d) / 1e6);
    }
  }
  const fault = r.history.find(
    (e): e is Extract<HistoryEvent, { ev: 'fault' }> =>
      e.ev === 'fault' && e.proc === 'harness' && e.phase === 'start',
  );
  const next =
    fault && r.history.find((e) => e.ev === 'became_leader' && BigInt(e.t) > BigInt(fault.t));
  const line = {
    name: expect.getState().currentTestName ?? '?',
    mustFire: !safe,
    overlaps: r.overlaps.length,
    containment: r.containment.length,
    fencing: r.fencing.length,
    resurrection: r.resurrection.length,
    worstStepDownLateMs: Number(worstLateMs.toFixed(2)),
    faultToNextLeaderMs:
      fault && next ? Number((Number(BigInt(next.t) - BigInt(fault.t)) / 1e6).toFixed(1)) : null,
  };
  appendSummary(line);
}

/** One row of the results table (scripts/fault-table.mjs); also used by rows outside the harness. */
export function appendSummary(line: {
  name: string;
  mustFire: boolean;
  overlaps: number;
  containment: number;
  fencing: number;
  resurrection: number;
  worstStepDownLateMs: number;
  faultToNextLeaderMs: number | null;
}): void {
  mkdirSync('.tmp', { recursive: true });
  appendFileSync('.tmp/fault-summary.jsonl', `${JSON.stringify(line)}\n`);
}
