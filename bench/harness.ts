/**
 * Side-by-side measurement helpers: a private redis-server, interleaved
 * rounds, medians, client CPU (process.cpuUsage), server CPU (INFO cpu) and
 * Redis commands per cycle (INFO commandstats, which counts commands run
 * inside scripts too, so "commands" is work on the server; "round trips" is
 * what the client sent).
 */
import type { Redis } from 'ioredis';
import { StoreError } from '../src/errors.js';
import { Locker } from '../src/lock/locker.js';
import type { LeaseStore } from '../src/lock/lease-store.js';
import { OwnershipToken } from '../src/lock/ownership-token.js';

export interface Sample {
  readonly cycles: number;
  readonly wallMs: number;
  readonly clientCpuUs: number;
  readonly serverCpuUs: number;
  readonly serverCommands: number;
}

export interface Stats {
  readonly perSecond: number;
  readonly clientCpuUsPerCycle: number;
  readonly serverCpuUsPerCycle: number;
  readonly commandsPerCycle: number;
}

async function serverCpuUs(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return (user + sys) * 1e6;
}

async function serverCommands(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g))
    if (m[1] !== 'info') total += Number(m[2]);
  return total;
}

/** Lua scripts the server ran so far (EVALSHA + EVAL): every tenure store operation is one. */
export async function scriptCalls(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let n = 0;
  for (const c of ['evalsha', 'eval'])
    n += Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return n;
}

/** Runs `loop` (which returns the number of cycles it completed) and measures it. */
export async function measure(admin: Redis, loop: () => Promise<number>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const srv0 = await serverCpuUs(admin);
  const cmd0 = await serverCommands(admin);
  const t0 = performance.now();
  const cycles = await loop();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const srv = (await serverCpuUs(admin)) - srv0;
  const cmd = (await serverCommands(admin)) - cmd0;
  return {
    cycles,
    wallMs,
    clientCpuUs: cpu.user + cpu.system,
    serverCpuUs: srv,
    serverCommands: cmd,
  };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

export function stats(samples: readonly Sample[]): Stats {
  return {
    perSecond: median(samples.map((s) => (s.cycles * 1000) / s.wallMs)),
    clientCpuUsPerCycle: median(samples.map((s) => s.clientCpuUs / s.cycles)),
    serverCpuUsPerCycle: median(samples.map((s) => s.serverCpuUs / s.cycles)),
    commandsPerCycle: median(samples.map((s) => s.serverCommands / s.cycles)),
  };
}

/** Repeats `fn` until `durationMs` has passed; returns how many times it ran. */
export async function forDuration(
  durationMs: number,
  fn: (i: number) => Promise<void>,
): Promise<number> {
  const end = performance.now() + durationMs;
  let i = 0;
  while (performance.now() < end) await fn(i++);
  return i;
}

/** `workers` concurrent loops sharing one deadline; returns the total cycles. */
export async function concurrently(
  workers: number,
  durationMs: number,
  fn: (worker: number, i: number) => Promise<void>,
): Promise<number> {
  const end = performance.now() + durationMs;
  const counts = await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      let i = 0;
      while (performance.now() < end) await fn(w, i++);
      return i;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** One implementation in a side-by-side lock-cycle table. */
export interface CycleImpl {
  readonly name: string;
  cycle(key: string): Promise<boolean>;
}

export interface CycleRow {
  readonly name: string;
  readonly perSecond: number;
  /** To the first implementation, the baseline. */
  readonly ratio: number;
  readonly clientCpuUsPerCycle: number;
}

/**
 * Runs `loop` for every implementation, `rounds` times, alternating the
 * order round by round (so drift in the machine's speed hits all alike);
 * medians of cycles/s and of client CPU per cycle, and the ratio to the
 * first implementation.
 */
export async function interleavedRounds<I extends CycleImpl>(
  impls: readonly I[],
  rounds: number,
  loop: (impl: I, round: number) => Promise<number>,
): Promise<CycleRow[]> {
  const rates = new Map<string, number[]>(impls.map((i) => [i.name, []]));
  const cpu = new Map<string, number[]>(impls.map((i) => [i.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const impl of round % 2 ? [...impls].reverse() : impls) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const cycles = await loop(impl, round);
      const wall = performance.now() - t0;
      const used = process.cpuUsage(cpu0);
      rates.get(impl.name)?.push((cycles * 1000) / wall);
      cpu.get(impl.name)?.push((used.user + used.system) / Math.max(1, cycles));
    }
  }
  const base = median(rates.get(impls[0]?.name ?? '') ?? []);
  return impls.map((i) => {
    const perSecond = median(rates.get(i.name) ?? []);
    return {
      name: i.name,
      perSecond,
      ratio: perSecond / base,
      clientCpuUsPerCycle: median(cpu.get(i.name) ?? []),
    };
  });
}

/** The rows as a Markdown table against `baseline` (the first implementation). */
export function cycleTable(rows: readonly CycleRow[], baseline: string): string[] {
  return [
    `| implementation | cycles/s (median) | ratio to ${baseline} | client CPU µs/cycle |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.perSecond.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.clientCpuUsPerCycle.toFixed(1)} |`,
    ),
  ];
}

/**
 * The two lock-cycle tables every backend section prints: `<label> 1.`
 * sequential cycles on fresh names, `<label> 2.` 64 concurrent workers on
 * their own names (`where` says what they share). Returns the rows by title.
 */
export async function lockCycleTables(
  impls: readonly CycleImpl[],
  o: {
    readonly label: string;
    readonly baseline: string;
    readonly where: string;
    readonly rounds: number;
    readonly durationMs: number;
    readonly out: (line?: string) => void;
  },
): Promise<Record<string, CycleRow[]>> {
  const results: Record<string, CycleRow[]> = {};
  const tag = (impl: CycleImpl): number => impls.indexOf(impl);
  const table = async (
    title: string,
    loop: (impl: CycleImpl, round: number) => Promise<number>,
  ) => {
    const rows = await interleavedRounds(impls, o.rounds, loop);
    o.out(`\n### ${title}\n`);
    for (const line of cycleTable(rows, o.baseline)) o.out(line);
    results[title] = rows;
  };
  // Only cycles that acquired count: a refusal (a worker's own lease left behind by a release
  // that failed) or a cycle that gave up would inflate cycles/s.
  await table(`${o.label} 1. Sequential acquire + release on fresh names`, async (impl, round) => {
    let refused = 0;
    const cycles = await forDuration(o.durationMs, (i) =>
      impl.cycle(`s1-${tag(impl)}-${round}-${i}`).then((ok) => void (ok || refused++)),
    );
    return cycles - refused;
  });
  await table(`${o.label} 2. 64 concurrent workers, own names, ${o.where}`, async (impl, round) => {
    let refused = 0;
    const cycles = await concurrently(64, o.durationMs, (w) =>
      impl.cycle(`s2-${tag(impl)}-${round}-${w}`).then((ok) => void (ok || refused++)),
    );
    return cycles - refused;
  });
  return results;
}

/**
 * tenure's two rows of every backend's lock-cycle table: through `Locker`
 * (tryLock + release), and the store alone (acquire + release: what the
 * backend's requests cost without the Locker's timers and bookkeeping).
 */
export function tenureCycles(store: LeaseStore, ttlMs: number, storeName: string): CycleImpl[] {
  const locker = new Locker(store);
  return [
    {
      name: 'tenure Locker.tryLock + release',
      cycle: (name) =>
        notNow(async () => {
          const lock = await locker.tryLock(name, { ttlMs });
          if (!lock) return false;
          await lock.release();
          return true;
        }),
    },
    {
      name: `tenure ${storeName} acquire + release (no Locker)`,
      cycle: (name) =>
        notNow(async () => {
          const token = OwnershipToken.generate();
          const granted = await store.acquire({ name, token, ttlMs, identity: 'bench', data: '' });
          if (!granted.acquired) return false;
          await store.release({ name, token, term: granted.term });
          return true;
        }),
    },
  ];
}

/**
 * Runs `attempt` again (up to 10 times) while it fails with a "not now"
 * error: with `waitReplicas`, a replica that confirms later than
 * `waitTimeoutMs` on a loaded machine gives `NotEnoughReplicasError` (the
 * grant is handed back), as a `lock()` would retry it. Such a cycle takes
 * longer, and the table shows it; it no longer ends the run (a CI smoke run
 * of the Cluster section crashed on one, 2026-12-07).
 */
async function notNow(attempt: () => Promise<boolean>): Promise<boolean> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof StoreError && error.retryable) || tries >= 10) throw error;
    }
  }
}
