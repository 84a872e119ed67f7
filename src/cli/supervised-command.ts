/**
 * The parent's side of the supervisor (see `supervisor.ts`): forks it once,
 * runs one command at a time through it, and keeps its kill schedule fed
 * with the lease deadline. The deadline is read as `hrtime now + remaining
 * validity`, the clock read first, so it is never later than the holder's
 * own deadline; it is sent every {@link DEADLINE_POLL_MS} while it moves.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type {
  FromSupervisor,
  StopCause,
  SupervisorSettings,
  ToSupervisor,
} from './supervisor-protocol.js';

/** How often a moved deadline is passed on. A late update only makes the schedule earlier. */
export const DEADLINE_POLL_MS = 50;

export interface CommandExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Who stopped it: the deadline schedule, a stop request, or nobody (`null`: it exited on its own). */
  readonly cause: StopCause | 'supervisor-gone';
}

export interface RunningCommand {
  readonly pid: number;
  /** Resolves once the command's whole process group is gone. */
  readonly exited: Promise<CommandExit>;
  /** SIGTERM now, SIGKILL after `graceMs` (never after the kill point). */
  stop(graceMs: number): void;
  /** SIGKILL now. */
  kill(): void;
}

/** The command could not be started (not found, not executable, deadline too close). */
export class CommandStartError extends Error {
  override readonly name = 'CommandStartError';
}

/** The supervisor process died; the parent killed the command's group itself. */
export class SupervisorGoneError extends Error {
  override readonly name = 'SupervisorGoneError';
}

export class Supervisor {
  readonly #proc: ChildProcess;
  readonly #exited: Promise<void>;
  #current: {
    pid: number;
    resolve: (exit: CommandExit) => void;
    poll: NodeJS.Timeout;
  } | null = null;
  #pending: { resolve: (pid: number) => void; reject: (error: Error) => void } | null = null;
  #gone: SupervisorGoneError | null = null;

  /** `onDeadlineSignal`: the schedule signalled the command without being asked (for logs). */
  constructor(
    settings: SupervisorSettings,
    readonly onDeadlineSignal: (signal: 'SIGTERM' | 'SIGKILL') => void = () => {},
  ) {
    this.#proc = fork(new URL('./supervisor.js', import.meta.url), [JSON.stringify(settings)], {
      detached: true, // its own process group: Ctrl-Z or a group signal to tenure does not stop it
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.#proc.on('message', (m: FromSupervisor) => this.#onMessage(m));
    this.#exited = new Promise((resolve) => this.#proc.once('exit', () => resolve()));
    void this.#exited.then(() => this.#onGone());
  }

  /** Set once the supervisor died unexpectedly. */
  get gone(): SupervisorGoneError | null {
    return this.#gone;
  }

  /**
   * Starts `file args` in a new process group with `env`, the kill schedule
   * fed from `remainingMs()` (the lease's validity left, 0 when over).
   * Rejects with `CommandStartError` if it could not start.
   */
  async run(
    command: readonly [string, ...string[]],
    env: Record<string, string>,
    remainingMs: () => number,
  ): Promise<RunningCommand> {
    if (this.#gone) throw this.#gone;
    if (this.#current || this.#pending) throw new Error('a command is already running');
    const [file, ...args] = command;
    const pid = await new Promise<number>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#send({ t: 'spawn', file, args, env, deadline: deadlineNow(remainingMs) });
    });
    let resolve!: (exit: CommandExit) => void;
    const exited = new Promise<CommandExit>((r) => (resolve = r));
    let sent = 0n;
    const poll = setInterval(() => {
      const deadline = BigInt(deadlineNow(remainingMs));
      if (deadline > sent + 1_000_000n) {
        sent = deadline;
        this.#send({ t: 'deadline', deadline: String(deadline) });
      }
    }, DEADLINE_POLL_MS);
    poll.unref();
    this.#current = { pid, resolve, poll };
    return {
      pid,
      exited,
      stop: (graceMs) => this.#send({ t: 'stop', graceMs }),
      kill: () => this.#send({ t: 'kill' }),
    };
  }

  /** Ends the supervisor (after the command is gone). */
  async close(): Promise<void> {
    if (this.#proc.connected) this.#proc.disconnect();
    await this.#exited;
  }

  #send(message: ToSupervisor): void {
    if (this.#proc.connected) this.#proc.send(message);
  }

  #onMessage(message: FromSupervisor): void {
    switch (message.t) {
      case 'started':
        this.#pending?.resolve(message.pid);
        this.#pending = null;
        break;
      case 'failed':
        this.#pending?.reject(new CommandStartError(message.message));
        this.#pending = null;
        break;
      case 'deadline-signal':
        this.onDeadlineSignal(message.signal);
        break;
      case 'exited':
        this.#finish({ code: message.code, signal: message.signal, cause: message.cause });
        break;
    }
  }

  #finish(exit: CommandExit): void {
    const current = this.#current;
    if (!current) return;
    this.#current = null;
    clearInterval(current.poll);
    current.resolve(exit);
  }

  #onGone(): void {
    this.#gone = new SupervisorGoneError('the supervisor process exited');
    this.#pending?.reject(this.#gone);
    this.#pending = null;
    const current = this.#current;
    if (!current) return;
    try {
      process.kill(-current.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
    this.#finish({ code: null, signal: 'SIGKILL', cause: 'supervisor-gone' });
  }
}

/** `hrtime now + remaining`, the clock read first: never later than the lease's own deadline. */
function deadlineNow(remainingMs: () => number): string {
  const now = process.hrtime.bigint();
  return String(now + BigInt(Math.floor(remainingMs() * 1e6)));
}
