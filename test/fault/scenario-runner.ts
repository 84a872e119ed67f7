/** Wraps a scenario: start, act, finish, and require the safety checkers to report nothing. */
import { expect } from 'vitest';
import { type Scenario as S, Scenario, type ScenarioOptions } from './harness.js';

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
