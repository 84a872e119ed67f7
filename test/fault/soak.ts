/**
 * Soak mode (FAULT-PLAN §2.8): `npm run soak -- --minutes 30 --electors 5 --seed 7`.
 * A seeded nemesis picks a fault every 3–10 s, holds it 0.2T–3T, heals, then
 * leaves a quiet window of 3T in which a leader must exist within
 * T + P + J + S. Killed electors are restarted; Redis restarts only in the
 * safe variant (after ≥ T). The checkers run every minute and at the end;
 * the run fails on any safety violation or missed liveness bound.
 */
import { writeFileSync } from 'node:fs';
import { F_CRASH, Scenario, T, type Worker, sleep } from './harness.js';
import { timeToLeader } from './checkers.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const minutes = arg('minutes', 30);
const electors = arg('electors', 5);
const seed = arg('seed', Date.now() % 100_000);
const outIndex = process.argv.indexOf('--out');
const out = outIndex >= 0 ? process.argv[outIndex + 1] : undefined;

/** mulberry32: a small seeded PRNG, so a run can be reproduced with --seed. */
function rng(a: number): () => number {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(seed);
const between = (lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));
const pick = <X>(xs: readonly X[]): X => xs[Math.floor(random() * xs.length)] as X;

const FAULTS = [
  'pause',
  'kill',
  'block',
  'stall-reset',
  'stall-deliver',
  'delay',
  'reset',
  'script-flush',
  'debug-sleep',
  'client-pause',
  'redis-restart',
  'pause+delay',
] as const;
type Fault = (typeof FAULTS)[number];

const s = await Scenario.start({ electors });
const started = Date.now();
const counts = new Map<Fault, number>();
const liveness: { fault: Fault; ok: boolean; ms: number | null }[] = [];
let restarts = 0;
let violations = 0;
console.log(
  `soak: ${minutes} min, ${electors} electors, seed ${seed}, T=${T} ms; history in ${s.dir}`,
);

const live = (): Worker[] =>
  s.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
const target = (): Worker => live().find((w) => w.leading !== null) ?? pick(live());

async function inject(fault: Fault): Promise<void> {
  const w = target();
  const hold = between(0.2 * T, 3 * T);
  switch (fault) {
    case 'pause':
    case 'pause+delay':
      if (fault === 'pause+delay') w.proxy.delay('s2c', between(20, 150));
      w.child.kill('SIGSTOP');
      await sleep(hold);
      w.child.kill('SIGCONT');
      w.proxy.delay('s2c', 0);
      return;
    case 'kill': {
      w.child.kill('SIGKILL');
      await sleep(hold);
      await w.proxy.close();
      // The dead process leaves the live list (its history file stays and is checked);
      // spawn() adds the replacement.
      s.workers.splice(s.workers.indexOf(w), 1);
      await s.spawn(`${w.proc.split('-')[0]}-r${++restarts}`);
      return;
    }
    case 'block':
      w.child.send({ cmd: 'block', ms: hold });
      await sleep(hold);
      return;
    case 'stall-reset':
    case 'stall-deliver':
      w.proxy.stall();
      await sleep(hold);
      w.proxy.heal(fault === 'stall-reset' ? 'reset' : 'deliver');
      return;
    case 'delay':
      w.proxy.delay('c2s', between(10, 80));
      w.proxy.delay('s2c', between(10, 80));
      await sleep(hold);
      w.proxy.delay('c2s', 0);
      w.proxy.delay('s2c', 0);
      return;
    case 'reset':
      w.proxy.reset();
      await sleep(hold);
      return;
    case 'script-flush':
      await s.admin.script('FLUSH').catch(() => undefined);
      await sleep(hold);
      return;
    case 'debug-sleep': {
      const admin = s.redis.client();
      await admin
        .call('DEBUG', 'SLEEP', String(Math.min(hold, 1.5 * T) / 1000))
        .catch(() => undefined);
      admin.disconnect();
      return;
    }
    case 'client-pause':
      await s.admin
        .call('CLIENT', 'PAUSE', String(Math.min(hold, 1.5 * T)), 'WRITE')
        .catch(() => undefined);
      await sleep(Math.min(hold, 1.5 * T));
      return;
    case 'redis-restart':
      await s.redis.kill();
      await sleep(Math.max(hold, T + 200)); // the safe variant: no restart before the longest ttl passed
      await s.redis.restart();
      return;
  }
}

let lastCheck = Date.now();
let failure: string | undefined;
while (Date.now() - started < minutes * 60_000) {
  await sleep(between(3000, 10_000) - 3 * T);
  const fault = pick(FAULTS);
  counts.set(fault, (counts.get(fault) ?? 0) + 1);
  const mark = s.mark(fault, 'start');
  await inject(fault);
  s.mark(fault, 'end');
  // Quiet window: a leader must exist within T + P + J + S.
  await sleep(F_CRASH);
  const leading = live().some((w) => w.leading !== null);
  const ms = timeToLeader(s.history(), mark);
  liveness.push({ fault, ok: leading, ms });
  if (!leading) console.log(`  liveness: no leader ${F_CRASH} ms after ${fault} healed`);
  await sleep(Math.max(0, 3 * T - F_CRASH));
  if (Date.now() - lastCheck > 60_000) {
    lastCheck = Date.now();
    const report = await s.finishPartial();
    violations =
      report.overlaps.length +
      report.containment.length +
      report.fencing.length +
      report.resurrection.length;
    console.log(
      `  ${((Date.now() - started) / 60_000).toFixed(1)} min: ${[...counts.values()].reduce((a, b) => a + b, 0)} faults, ${report.intervals.length} terms, violations ${violations}`,
    );
    if (violations > 0) {
      failure = JSON.stringify(
        {
          overlaps: report.overlaps.length,
          containment: report.containment.slice(0, 3),
          fencing: report.fencing.slice(0, 3),
          resurrection: report.resurrection.slice(0, 3),
        },
        (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
      );
      break;
    }
  }
}

const r = await s.finish();
const history = r.history;
violations = r.overlaps.length + r.containment.length + r.fencing.length + r.resurrection.length;
const failovers = liveness
  .map((l) => l.ms)
  .filter((m): m is number => m !== null)
  .sort((a, b) => a - b);
const p99 = failovers[Math.min(failovers.length - 1, Math.floor(failovers.length * 0.99))] ?? null;
const missed = liveness.filter((l) => !l.ok).length;
const rss = new Map<string, number[]>();
for (const e of history) if (e.ev === 'mem') rss.set(e.proc, [...(rss.get(e.proc) ?? []), e.rss]);
const growth = Math.max(
  0,
  ...[...rss.values()]
    .filter((v) => v.length > 30)
    .map((v) => ((v.at(-1) as number) - (v[30] as number)) / 1e6),
);
const summary = {
  date: new Date().toISOString(),
  minutes,
  electors,
  seed,
  faults: Object.fromEntries(counts),
  terms: r.intervals.length,
  overlaps: r.overlaps.length,
  containment: r.containment.length,
  fencing: r.fencing.length,
  resurrection: r.resurrection.length,
  quietWindowsWithoutLeader: missed,
  quietWindows: liveness.length,
  timeToLeaderAfterFaultStartP50Ms: failovers[Math.floor(failovers.length / 2)] ?? null,
  timeToLeaderAfterFaultStartP99Ms: p99,
  rssGrowthAfter5MinMB: Number(growth.toFixed(1)),
  failure,
};
console.log(JSON.stringify(summary, null, 2));
if (out) writeFileSync(out, JSON.stringify(summary, null, 2));
const ok = violations === 0 && missed === 0 && !failure;
await s.close(!ok);
process.exit(ok ? 0 : 1);
