/**
 * Fault rows for the command line (docs/safety.md, "The command line"):
 * the command `tenure run` runs must be dead before its lease could pass
 * to another instance, whatever happens to the `tenure run` process.
 *
 * Each row runs two instances for one election with a 2 s lease; their
 * command appends `<TENURE_TERM> <CLOCK_MONOTONIC ns>` to a ledger every
 * 10 ms, and the checks are those of a fenced resource:
 * - overlaps: the old term wrote after the new term's first write;
 * - fencing: writes with a term below one already written;
 * - containment: the old term wrote after its deadline bound, which is the
 *   fault's start + ttl − drift (the last renewal confirmed before the
 *   fault was sent before it).
 *
 * XU1 (must fire): a runner that stops its command only when it notices
 *   the loss (as consul lock does), SIGSTOPped past its lease.
 * XQ1 (gate): `tenure run` SIGSTOPped past its lease: the supervisor kills
 *   the command before the deadline.
 * XQ2: `tenure run` SIGKILLed: the supervisor stops the command at once,
 *   and the other instance starts it after the lease expires.
 * XQ3: the Redis server SIGSTOPped for twice the lease: the leader's command
 *   is dead before its deadline; a command runs again once Redis is back.
 * XU2 (must fire) / XQ4 (gate): the command's main thread exits while a
 *   thread keeps writing (a zombie leader that runs, `ps` stat Zl) and
 *   ignores SIGTERM; `tenure run` SIGSTOPped past its lease. With the
 *   liveness check that took such a process for dead, the supervisor skips
 *   its SIGKILL and the thread outlives the lease; with the fix it is
 *   killed at the kill point.
 * XU3 (must fire) / XQ5 (gate): only the supervisor is SIGSTOPped, then the
 *   leader's link to Redis stalls, so its lease runs out: without the
 *   backstop nothing stops the command; with it, `tenure run` SIGKILLs the
 *   command's group itself at the kill point.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
  CliProcess,
  LEDGER_CHILD,
  alive,
  checkLedger,
  childrenOf,
  parseLedger,
} from '../helpers/cli.js';
import { mtWriter } from '../helpers/mt-writer.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';
import { FaultProxy } from './proxy.js';
import { appendSummary } from './scenario-runner.js';

const NAIVE_RUN = fileURLToPath(new URL('../../.build/test/fault/naive-run.js', import.meta.url));
const LEGACY_CLI = fileURLToPath(new URL('../../.build/test/fault/legacy-cli.js', import.meta.url));
const TTL_MS = 2_000;
const DRIFT_MS = Math.ceil(0.01 * TTL_MS) + 2;
/** Liveness slack on a loaded 2-core machine (FAULT-PLAN S). */
const SLACK_MS = 3_000;

let server: RedisServer;
let dir: string;

beforeAll(async () => {
  server = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'tenure-cli-fault-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowNs = (): bigint => process.hrtime.bigint();
const ms = (ns: bigint): number => Number(ns) / 1e6;
/** SIGCONT, for `finally` blocks: the process may have exited already. */
function resume(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // ESRCH: gone.
  }
}

interface Pair {
  readonly a: CliProcess;
  readonly b: CliProcess;
  readonly file: string;
}

interface PairOptions {
  /** The command before the ledger file's path. @default [node, ledger-child] */
  readonly command?: readonly string[];
  /** A's store URL (e.g. through a proxy). @default the server's */
  readonly storeA?: string;
  /** Fixes A's `tenure run` runs without (test/fault/legacy-cli.ts): a must-fire row. */
  readonly withoutFixes?: 'threads' | 'backstop';
}

/** Starts A, waits until its command runs, then starts B (a follower). */
async function pair(naive: boolean, options: PairOptions = {}): Promise<Pair> {
  const namespace = uniqueNamespace('xq');
  const file = join(dir, `${namespace}.ledger`);
  const command = [...(options.command ?? [process.execPath, LEDGER_CHILD]), file];
  const spawnOne = (store = server.url, withoutFixes?: string): CliProcess =>
    naive
      ? new CliProcess([server.url, namespace, 'job', String(TTL_MS), ...command], {}, NAIVE_RUN)
      : new CliProcess(
          [
            ...(withoutFixes ? [withoutFixes] : []),
            ...['run', 'job', '--lease-ms', String(TTL_MS), '--', ...command],
          ],
          { TENURE_STORE: store, TENURE_NAMESPACE: namespace },
          withoutFixes ? LEGACY_CLI : CLI,
        );
  const a = spawnOne(options.storeA, options.withoutFixes);
  await a.waitFor(/started/);
  const b = spawnOne();
  await sleep(500);
  expect(b.stderr).not.toMatch(/started/);
  return { a, b, file };
}

/** Waits until the ledger holds writes of `terms` terms (a command's first write comes after its process starts). */
async function waitForTerms(file: string, terms: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (ledgerOf(file).terms.length >= terms) return;
    await sleep(20);
  }
}

function ledgerOf(file: string): ReturnType<typeof checkLedger> & { pids: number[] } {
  const entries = parseLedger(readFileSync(file, 'utf8'));
  return { ...checkLedger(entries), pids: [...new Set(entries.map((e) => e.pid))] };
}

/** Checks and records one row; returns the old and new term of the ledger. */
function verdict(
  row: string,
  file: string,
  faultAt: bigint,
  mustFire: boolean,
): { overlaps: number; fencing: number; containment: number; lastBeforeDeadlineMs: number } {
  const { stale, terms } = ledgerOf(file);
  const [old, next] = terms;
  expect(old, 'the first term wrote').toBeDefined();
  expect(next, 'a second term wrote').toBeDefined();
  const bound = faultAt + BigInt((TTL_MS - DRIFT_MS) * 1e6);
  const overlaps = terms.filter((t, i) => i > 0 && (terms[i - 1]?.last ?? 0n) > t.first).length;
  const containment = old && old.last > bound ? 1 : 0;
  const lastBeforeDeadlineMs = old ? ms(bound - old.last) : NaN;
  appendSummary({
    name: row,
    mustFire,
    overlaps,
    containment,
    fencing: stale,
    resurrection: 0,
    worstStepDownLateMs: Number((-lastBeforeDeadlineMs).toFixed(1)),
    faultToNextLeaderMs: next ? Number(ms(next.first - faultAt).toFixed(1)) : null,
  });
  return { overlaps, fencing: stale, containment, lastBeforeDeadlineMs };
}

async function cleanup(p: Pair): Promise<void> {
  await Promise.all([p.a.stop('SIGKILL'), p.b.stop('SIGKILL')]);
}

/** No command or supervisor outlives the row. */
async function expectNothingLeft(file: string, supervisors: number[]): Promise<void> {
  const pids = [...ledgerOf(file).pids, ...supervisors];
  for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(20);
  expect(pids.filter(alive), 'processes left behind').toEqual([]);
}

describe('command line under faults', () => {
  it('XU1 (must fire): a runner that reacts to the loss, paused past its lease, overlaps', async () => {
    const p = await pair(true);
    try {
      const faultAt = nowNs();
      process.kill(p.a.pid, 'SIGSTOP');
      await p.b.waitFor(/started/, TTL_MS + SLACK_MS);
      await waitForTerms(p.file, 2, SLACK_MS);
      await sleep(100);
      process.kill(p.a.pid, 'SIGCONT');
      await sleep(300);
      const v = verdict('XU1 (naive runner SIGSTOPped past its lease)', p.file, faultAt, true);
      expect(v.overlaps + v.fencing + v.containment, 'the hazard shows').toBeGreaterThan(0);
    } finally {
      resume(p.a.pid);
      await cleanup(p);
      // The naive runner's command is in its own group: SIGKILL of the runner leaves it running.
      killLeftovers(p.file);
    }
  });

  it('XQ1 (gate): tenure run paused past its lease: its command is dead before the deadline', async () => {
    const p = await pair(false);
    const supervisors = childrenOf(p.a.pid);
    try {
      const faultAt = nowNs();
      process.kill(p.a.pid, 'SIGSTOP');
      await p.b.waitFor(/started/, TTL_MS + SLACK_MS);
      await waitForTerms(p.file, 2, SLACK_MS);
      await sleep(100);
      const v = verdict('XQ1 (tenure run SIGSTOPped past its lease)', p.file, faultAt, false);
      expect(v).toMatchObject({ overlaps: 0, fencing: 0, containment: 0 });
      process.kill(p.a.pid, 'SIGCONT');
      await p.a.waitFor(/command ended: signal SIGTERM \(term=\d+ by=deadline\)/);
      expect(p.a.stderr).toMatch(
        /renewals are late: stopping the command before the lease deadline/,
      );
      expect(await p.a.stop('SIGTERM')).toBe(0);
      expect(await p.b.stop('SIGTERM')).toBe(0);
      await expectNothingLeft(p.file, supervisors);
    } finally {
      resume(p.a.pid);
      await cleanup(p);
    }
  });

  it('XQ2: tenure run SIGKILLed: the command stops at once, the other starts it after expiry', async () => {
    const p = await pair(false);
    const supervisors = childrenOf(p.a.pid);
    expect(supervisors).toHaveLength(1);
    try {
      const faultAt = nowNs();
      process.kill(p.a.pid, 'SIGKILL');
      await p.b.waitFor(/started/, TTL_MS + SLACK_MS);
      await waitForTerms(p.file, 2, SLACK_MS);
      await sleep(100);
      const v = verdict('XQ2 (tenure run SIGKILLed)', p.file, faultAt, false);
      expect(v).toMatchObject({ overlaps: 0, fencing: 0, containment: 0 });
      const [old] = ledgerOf(p.file).terms;
      // Stopped by the supervisor when its parent vanished, not by the deadline schedule.
      expect(ms((old?.last ?? 0n) - faultAt)).toBeLessThan(500);
      expect(await p.b.stop('SIGTERM')).toBe(0);
      await expectNothingLeft(p.file, supervisors);
    } finally {
      await cleanup(p);
    }
  });

  it('XQ3: the Redis server paused for twice the lease: the command is dead before the deadline', async () => {
    const p = await pair(false);
    const supervisors = [...childrenOf(p.a.pid), ...childrenOf(p.b.pid)];
    const redis = server.pid as number;
    try {
      const faultAt = nowNs();
      process.kill(redis, 'SIGSTOP');
      await p.a.waitFor(/command ended/, TTL_MS + SLACK_MS);
      await sleep(Math.max(0, 2 * TTL_MS - ms(nowNs() - faultAt)));
      process.kill(redis, 'SIGCONT');
      // Either instance may lead next; wait for a second command to start.
      await waitForTerms(p.file, 2, TTL_MS + SLACK_MS);
      await sleep(100);
      const v = verdict(
        'XQ3 (Redis SIGSTOPped for 2 × ttl under tenure run)',
        p.file,
        faultAt,
        false,
      );
      expect(v).toMatchObject({ overlaps: 0, fencing: 0, containment: 0 });
      expect(await p.a.stop('SIGTERM')).toBe(0);
      expect(await p.b.stop('SIGTERM')).toBe(0);
      await expectNothingLeft(p.file, supervisors);
    } finally {
      resume(redis);
      await cleanup(p);
    }
  });

  it('XU2 (must fire): a command whose main thread exited while a thread writes, taken for dead: the thread outlives the lease', () =>
    pausedThreadRow('XU2 (main thread exited, taken for dead; tenure run SIGSTOPped)', true));

  it('XQ4 (gate): the same command under tenure run SIGSTOPped past its lease: its live thread is killed before the deadline', () =>
    pausedThreadRow('XQ4 (main thread exited, a thread writes; tenure run SIGSTOPped)', false));

  it('XU3 (must fire): only the supervisor paused, then the lease lost: without the backstop the command outlives it', () =>
    pausedSupervisorRow('XU3 (supervisor SIGSTOPped, lease lost, no backstop)', true));

  it('XQ5 (gate): only the supervisor paused, then the lease lost: tenure run SIGKILLs the group at the kill point', () =>
    pausedSupervisorRow('XQ5 (supervisor SIGSTOPped, lease lost)', false));
});

/** XU2/XQ4: mt-writer (SIGTERM ignored, main thread gone) as the command; `tenure run` A SIGSTOPped. */
async function pausedThreadRow(row: string, mustFire: boolean): Promise<void> {
  const p = await pair(false, {
    command: [mtWriter()],
    ...(mustFire ? { withoutFixes: 'threads' as const } : {}),
  });
  const supervisors = childrenOf(p.a.pid);
  try {
    const faultAt = nowNs();
    process.kill(p.a.pid, 'SIGSTOP');
    await p.b.waitFor(/started/, TTL_MS + SLACK_MS);
    await waitForTerms(p.file, 2, SLACK_MS);
    await sleep(100);
    const v = verdict(row, p.file, faultAt, mustFire);
    if (mustFire) {
      expect(v.overlaps + v.fencing + v.containment, 'the hazard shows').toBeGreaterThan(0);
    } else {
      expect(v).toMatchObject({ overlaps: 0, fencing: 0, containment: 0 });
      process.kill(p.a.pid, 'SIGCONT');
      await p.a.waitFor(/command ended: signal SIGKILL \(term=\d+ by=deadline\)/);
      expect(await p.a.stop('SIGTERM')).toBe(0);
      expect(await p.b.stop('SIGTERM')).toBe(0);
      await expectNothingLeft(p.file, supervisors);
    }
  } finally {
    resume(p.a.pid);
    await cleanup(p);
    killLeftovers(p.file);
  }
}

/**
 * XU3/XQ5: A reaches Redis through a proxy; its supervisor is SIGSTOPped, then A's link
 * stalls, so A's lease runs out while the stop it asks for cannot reach the supervisor.
 * B (direct) takes over after the lease expires.
 */
async function pausedSupervisorRow(row: string, mustFire: boolean): Promise<void> {
  const proxy = await FaultProxy.start(server.port);
  const p = await pair(false, {
    storeA: `redis://127.0.0.1:${proxy.port}`,
    ...(mustFire ? { withoutFixes: 'backstop' as const } : {}),
  });
  const supervisors = childrenOf(p.a.pid);
  expect(supervisors).toHaveLength(1);
  const supervisor = supervisors[0] as number;
  try {
    process.kill(supervisor, 'SIGSTOP');
    const faultAt = nowNs();
    proxy.stall();
    await p.b.waitFor(/started/, TTL_MS + SLACK_MS);
    await waitForTerms(p.file, 2, SLACK_MS);
    await sleep(100);
    const v = verdict(row, p.file, faultAt, mustFire);
    if (mustFire) {
      expect(v.overlaps + v.fencing + v.containment, 'the hazard shows').toBeGreaterThan(0);
    } else {
      expect(v).toMatchObject({ overlaps: 0, fencing: 0, containment: 0 });
      expect(p.a.stderr).toMatch(/SIGKILLed the command's process group/);
      resume(supervisor);
      await p.a.waitFor(/command ended/);
      expect(await p.a.stop('SIGTERM')).toBe(0);
      expect(await p.b.stop('SIGTERM')).toBe(0);
      await expectNothingLeft(p.file, supervisors);
    }
  } finally {
    resume(supervisor);
    await cleanup(p);
    await proxy.close();
    killLeftovers(p.file);
  }
}

/** SIGKILL for every writer of `file` still running (a must-fire row's leftover). */
function killLeftovers(file: string): void {
  for (const pid of ledgerOf(file).pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: gone.
    }
  }
}
