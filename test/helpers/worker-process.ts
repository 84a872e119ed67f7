/**
 * Spawns and drives elector-worker processes; every process started here is
 * killed by `killAll()`, and by the shared reaper if this process exits first.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig, WorkerMessage } from './elector-worker.js';
import { reapOnExit } from './reaper.js';

// Tests load this file from its TypeScript source (the worker is the compiled
// one under .build/); the benchmarks load the compiled file itself (a sibling).
const sibling = fileURLToPath(new URL('./elector-worker.js', import.meta.url));
const WORKER = import.meta.url.includes('/.build/')
  ? sibling
  : fileURLToPath(new URL('../../.build/test/helpers/elector-worker.js', import.meta.url));

export class WorkerProcess {
  readonly messages: (WorkerMessage & { at: bigint })[] = [];
  readonly child: ChildProcess;
  readonly identity: string;
  static readonly all = new Set<WorkerProcess>();

  /** `script`: another compiled worker speaking the same messages (the benchmarks' polling elector). */
  constructor(config: WorkerConfig, script = WORKER) {
    if (!existsSync(script))
      throw new Error(`${script} is missing: run \`npm run build:examples\``);
    this.identity = config.identity;
    this.child = fork(script, [], {
      env: { ...process.env, TENURE_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    reapOnExit(this.child);
    this.child.on('message', (m: WorkerMessage) =>
      this.messages.push({ ...m, at: process.hrtime.bigint() }),
    );
    WorkerProcess.all.add(this);
  }

  /** Resolves with the first message (from now on, or already received after `since`) matching `predicate`. */
  async next(
    predicate: (m: WorkerMessage) => boolean,
    timeoutMs = 10_000,
    since = 0,
  ): Promise<WorkerMessage & { at: bigint }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(since).find(predicate);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(
          `${this.identity}: no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.map((m) => m.ev))}`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  get isLeader(): boolean {
    let leading = false;
    for (const m of this.messages) {
      if (m.ev === 'elected') leading = true;
      if (m.ev === 'revoked') leading = false;
    }
    return leading;
  }

  send(cmd: string): void {
    this.child.send({ cmd });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.send('stop');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await exited;
    WorkerProcess.all.delete(this);
  }

  static async killAll(): Promise<void> {
    await Promise.all([...WorkerProcess.all].map((w) => w.kill()));
  }
}
