/**
 * The parent's side of the supervisor (see `supervisor.ts`): forks it once,
 * runs one command at a time through it, and keeps its kill schedule fed
 * with the lease deadline. The deadline is read as `hrtime now + remaining
 * validity`, the clock read first, so it is never later than the holder's
 * own deadline; it is sent every {@link DEADLINE_POLL_MS} while it moves.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { sameGroup } from './process-group.js';
import {
  type FromSupervisor,
  type StopCause,
  type SupervisorSettings,
  type ToSupervisor,
  withoutFixes,
} from './supervisor-protocol.js';

/** How often a moved deadline is passed on. A late update only makes the schedule earlier. */
export const DEADLINE_POLL_MS = 50;

export interface CommandExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Who stopped it: the deadline schedule, a stop request, or nobody (`null`: it exited on its own). */
  readonly cause: StopCause | 'supervisor-gone' | 'spawn';
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

/** The command was not started: not found or not executable (`spawn`), or the deadline was too close. */
export class CommandStartError extends Error {
  override readonly name = 'CommandStartError';
  constructor(
    message: string,
    readonly reason: 'deadline' | 'spawn',
  ) {
    super(message);
  }
}

/** The supervisor process died; the parent killed the command's group itself. */
export class SupervisorGoneError extends Error {
  override readonly name = 'SupervisorGoneError';
}

/** The command in flight: registered before the spawn is sent, so no answer can miss it. */
interface Current {
  pid: number;
  /** The command's start time as the supervisor read it (see `sameGroup`). */
  start: string | null;
  poll: NodeJS.Timeout | undefined;
  /** This process's own SIGKILL at the kill point, should the supervisor not report by then. */
  backstop: NodeJS.Timeout | undefined;
  /** The supervisor said it SIGKILLed the group on its schedule: no backstop needed any more. */
  killed: boolean;
  readonly resolve: (exit: CommandExit) => void;
  readonly started: { resolve: (pid: number) => void; reject: (error: Error) => void };
}

export class Supervisor {
  readonly #proc: ChildProcess;
  readonly #exited: Promise<void>;
  #markReady!: () => void;
  /** Resolves once the supervisor listens (see `run`'s `abort`). */
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));
  #current: Current | null = null;
  #gone: SupervisorGoneError | null = null;

  readonly #killMarginNs: bigint;

  /**
   * `onDeadlineSignal`: the schedule signalled the command without being
   * asked (for logs); `source` is `backstop` when this process did, because
   * the supervisor had not reported the command's end by the kill point
   * (paused, starved). `script`: the supervisor's module (tests substitute one).
   */
  constructor(
    settings: SupervisorSettings,
    readonly onDeadlineSignal: (
      signal: 'SIGTERM' | 'SIGKILL',
      source: 'supervisor' | 'backstop',
    ) => void = () => {},
    script: URL = new URL('./supervisor.js', import.meta.url),
  ) {
    this.#killMarginNs = BigInt(settings.killMarginMs) * 1_000_000n;
    this.#proc = fork(
      script,
      [JSON.stringify({ ...settings, withoutFixes: { ...withoutFixes } })],
      {
        detached: true, // its own process group: Ctrl-Z or a group signal to tenure does not stop it
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'json',
        env: withoutStore(process.env),
      },
    );
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
    if (this.#current) throw new Error('a command is already running');
    const [file, ...args] = command;
    let resolveExit!: (exit: CommandExit) => void;
    const exited = new Promise<CommandExit>((r) => (resolveExit = r));
    const first = deadlineNow(remainingMs);
    // 'started' and 'exited' can arrive in one read of the channel, handled before this
    // function resumes: the exit must find the command registered already.
    const pid = await new Promise<number>((resolve, reject) => {
      this.#current = {
        pid: 0,
        start: null,
        poll: undefined,
        backstop: undefined,
        killed: false,
        resolve: resolveExit,
        started: { resolve, reject },
      };
      this.#send({ t: 'spawn', file, args, env, deadline: first });
    });
    const current = this.#current as Current | null;
    if (current?.pid === pid) {
      // The latest deadline the supervisor was given (it ignores earlier ones; once stopping it
      // keeps its earlier kill): the backstop comes half the margin after its kill point.
      let sent = BigInt(first);
      this.#armBackstop(current, sent);
      current.poll = setInterval(() => {
        const deadline = BigInt(deadlineNow(remainingMs));
        if (deadline > sent + 1_000_000n) {
          sent = deadline;
          this.#send({ t: 'deadline', deadline: String(deadline) });
          this.#armBackstop(current, sent);
        }
      }, DEADLINE_POLL_MS);
      current.poll.unref();
    }
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
    const current = this.#current;
    switch (message.t) {
      case 'ready':
        this.#markReady();
        break;
      case 'started':
        if (current) {
          current.pid = message.pid;
          current.start = message.start ?? null;
        }
        current?.started.resolve(message.pid);
        break;
      case 'failed':
        this.#current = null;
        current?.started.reject(new CommandStartError(message.message, message.reason));
        break;
      case 'deadline-signal':
        // The supervisor runs and has SIGKILLed the group: a backstop after it would only race
        // its report (with a 10 ms kill margin it has 5 ms to report) and raise a false alarm.
        if (message.signal === 'SIGKILL' && current) {
          current.killed = true;
          clearTimeout(current.backstop);
        }
        this.onDeadlineSignal(message.signal, 'supervisor');
        break;
      case 'exited':
        this.#finish({ code: message.code, signal: message.signal, cause: message.cause });
        break;
    }
  }

  /**
   * The backstop: half the kill margin after the kill point of `deadline`
   * (still half the margin before the deadline), if the supervisor has not
   * reported the command's end, this process SIGKILLs the command's group
   * itself (it knows the group: the command leads it), unless the group id
   * now belongs to another group (`sameGroup`). A supervisor that is paused
   * or starved past the kill point then leaves no command running; only both
   * processes stopped at once defeat the schedule (safety assumption C2).
   */
  #armBackstop(current: Current, deadline: bigint): void {
    clearTimeout(current.backstop);
    if (withoutFixes.backstop || current.killed) return;
    // Half the margin after the supervisor's SIGKILL, so a supervisor that runs reports first
    // (a backstop at the same instant raced it on every deadline kill and logged a false
    // alarm); still half the margin before the deadline.
    const at = deadline - this.#killMarginNs / 2n;
    const ms = Math.max(0, Number(at - process.hrtime.bigint()) / 1e6);
    current.backstop = setTimeout(() => {
      if (this.#current !== current || !sameGroup(current.pid, current.start)) return;
      try {
        process.kill(-current.pid, 'SIGKILL');
      } catch {
        return; // ESRCH: the group is gone
      }
      this.onDeadlineSignal('SIGKILL', 'backstop');
    }, ms);
    current.backstop.unref();
  }

  #finish(exit: CommandExit): void {
    const current = this.#current;
    if (!current) return;
    this.#current = null;
    clearInterval(current.poll);
    clearTimeout(current.backstop);
    current.resolve(exit);
  }

  #onGone(): void {
    this.#gone = new SupervisorGoneError('the supervisor process exited');
    const current = this.#current;
    if (!current) return;
    current.started.reject(this.#gone); // no effect once started
    if (current.pid !== 0 && sameGroup(current.pid, current.start)) {
      try {
        process.kill(-current.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    this.#finish({ code: null, signal: 'SIGKILL', cause: 'supervisor-gone' });
  }
}

/** `hrtime now + remaining`, the clock read first: never later than the lease's own deadline. */
function deadlineNow(remainingMs: () => number): string {
  const now = process.hrtime.bigint();
  return String(now + BigInt(Math.floor(remainingMs() * 1e6)));
}

/** The environment without TENURE_STORE (it may hold the store's password). */
export function withoutStore(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== 'TENURE_STORE') out[k] = v;
  return out;
}
