/**
 * Runs the real `tenure` binary (compiled by the global setup into .build)
 * as a child process: `cli()` to completion with a bound on its run time,
 * `startCli()` for the long-running commands, whose lines are collected and
 * can be awaited. Every process is reaped when the test process exits, and
 * `stop()` waits for its exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { memberAlive } from '../../src/cli/process-group.js';
import { reapOnExit } from './reaper.js';

export const CLI = fileURLToPath(new URL('../../.build/src/cli/main.js', import.meta.url));
/** A child that appends `<term> <hrtime ns> <pid>` to a ledger file every 10 ms (see ledger-child.ts). */
export const LEDGER_CHILD = fileURLToPath(
  new URL('../../.build/test/helpers/ledger-child.js', import.meta.url),
);

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CliProcess {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #waiters = new Set<() => void>();

  constructor(args: readonly string[], env: Record<string, string> = {}, script = CLI) {
    this.proc = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reapOnExit(this.proc);
    this.proc.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.#wake();
    });
    this.proc.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.#wake();
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
    );
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  /** Resolves when stdout or stderr (`where`) matches; rejects after `timeoutMs` with what was seen. */
  async waitFor(
    pattern: RegExp,
    timeoutMs = 10_000,
    where: 'stdout' | 'stderr' = 'stderr',
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this[where].match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no ${String(pattern)} on ${where} within ${timeoutMs} ms; stderr:\n${this.stderr}\nstdout:\n${this.stdout}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }
}

export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  return new CliProcess(args, env);
}

/** The pids of `pid`'s children (e.g. the supervisor of a `tenure run`). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Runs `tenure args…` to its end; SIGKILLed (and the test fails on its code) after `timeoutMs`. */
export async function cli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<CliResult> {
  const p = new CliProcess(args, env);
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), timeoutMs);
  try {
    const code = await p.exited;
    return { code, stdout: p.stdout, stderr: p.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a process is alive: it exists and is not a zombie waiting to be reaped (one whose threads run is alive). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return memberAlive({
      pid,
      state: stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3),
    });
  } catch {
    return false; // gone meanwhile
  }
}

/**
 * Resolves once process `pid` has a handler for `signal` (the SigCgt mask of
 * /proc/<pid>/status): before that a signal takes its default action (for
 * SIGTERM: the process dies by it). `tenure` installs its handlers once its
 * modules have loaded, which takes longer than a fixed wait on a loaded machine.
 * Node catches some signals itself from its start (SIGTERM among them, here):
 * ask for one it does not, such as SIGHUP.
 */
export async function handlerInstalled(
  pid: number,
  signal: NodeJS.Signals,
  ms = 10_000,
): Promise<void> {
  const bit = 1n << BigInt(constants.signals[signal] - 1);
  const until = Date.now() + ms;
  for (;;) {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (mask !== undefined && (BigInt(`0x${mask}`) & bit) !== 0n) return;
    if (Date.now() > until)
      throw new Error(`process ${pid} has no ${signal} handler after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Whether `pid` is dead (see `alive`) within `ms`, polled every 10 ms: a process dies some time after its SIGKILL. */
export async function diesWithin(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

export interface LedgerEntry {
  readonly term: number;
  readonly ns: bigint;
  readonly pid: number;
}

/** Parses a ledger file written by ledger-child.ts. */
export function parseLedger(text: string): LedgerEntry[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [term, ns, pid] = l.split(' ');
      return { term: Number(term), ns: BigInt(ns as string), pid: Number(pid) };
    });
}

/**
 * Fencing and overlap on a ledger, as a fenced resource would see it:
 * `stale` counts writes whose term is below one already written (a fenced
 * resource refuses them: the writer kept acting after a newer holder began),
 * `terms` lists each term's first and last write in order.
 */
export function checkLedger(entries: readonly LedgerEntry[]): {
  stale: number;
  terms: { term: number; first: bigint; last: bigint; pids: Set<number> }[];
} {
  let max = -Infinity;
  let stale = 0;
  const terms = new Map<number, { term: number; first: bigint; last: bigint; pids: Set<number> }>();
  for (const e of [...entries].sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0))) {
    if (e.term < max) stale++;
    max = Math.max(max, e.term);
    const t = terms.get(e.term) ?? {
      term: e.term,
      first: e.ns,
      last: e.ns,
      pids: new Set<number>(),
    };
    t.last = e.ns;
    t.pids.add(e.pid);
    terms.set(e.term, t);
  }
  return { stale, terms: [...terms.values()].sort((a, b) => (a.first < b.first ? -1 : 1)) };
}
