/**
 * Messages between `tenure run`/`tenure lock` (the parent, which holds the
 * lease) and its supervisor process (which runs the command and kills it on
 * time). Deadlines are absolute `process.hrtime` readings in nanoseconds as
 * decimal strings: CLOCK_MONOTONIC on Linux, shared by both processes, so a
 * message that arrives late still names the right instant.
 */

/** Parent → supervisor. */
export type ToSupervisor =
  /** Run the command in a new process group (session); the group must be dead by `deadline`. */
  | {
      readonly t: 'spawn';
      readonly file: string;
      readonly args: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      readonly deadline: string;
    }
  /** A renewal moved the deadline (never earlier than the last one sent). */
  | { readonly t: 'deadline'; readonly deadline: string }
  /** Stop the command: SIGTERM to its group now, SIGKILL after `graceMs` or at the kill point, whichever is first. */
  | { readonly t: 'stop'; readonly graceMs: number }
  /** SIGKILL the group now. */
  | { readonly t: 'kill' };

/** Why the supervisor signalled the group, if it did. */
export type StopCause = 'deadline' | 'stop' | 'parent-gone' | null;

/** Supervisor → parent. */
export type FromSupervisor =
  /** Booted and listening. */
  | { readonly t: 'ready' }
  /** `start`: the command's start time (/proc, see `startTime`), to tell its group from a reuse of its id. */
  | { readonly t: 'started'; readonly pid: number; readonly start: string | null }
  /** The command was not started: the deadline was too close, or the spawn failed (not found). */
  | { readonly t: 'failed'; readonly reason: 'deadline' | 'spawn'; readonly message: string }
  /** The deadline came near: SIGTERM (or SIGKILL) was sent without being asked. */
  | { readonly t: 'deadline-signal'; readonly signal: 'SIGTERM' | 'SIGKILL' }
  /** The command's whole process group is gone. */
  | {
      readonly t: 'exited';
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly cause: StopCause;
    };

/**
 * Test-only: the fault suite's must-fire rows (docs/safety.md, XU2 and XU3)
 * turn a fix off to show the hazard it closes, through
 * test/fault/legacy-cli.ts, which sets these before it loads the command
 * line. The shipped commands never change them.
 */
export const withoutFixes = {
  /** Count a zombie leader as dead even while its other threads run (before issue 21). */
  threads: false,
  /** No SIGKILL from `tenure run`/`lock` when the supervisor misses the kill point. */
  backstop: false,
};

/** Settings passed to the supervisor at fork, in its argv as JSON. */
export interface SupervisorSettings {
  /** See {@link withoutFixes}: set by the Supervisor class from it, never by a caller. */
  readonly withoutFixes?: Readonly<typeof withoutFixes>;
  /** SIGTERM goes out `graceMs + killMarginMs` before the deadline. */
  readonly graceMs: number;
  /** SIGKILL goes out this long before the deadline. */
  readonly killMarginMs: number;
}
