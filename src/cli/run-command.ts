/**
 * One run of the command through the supervisor, shared by `run` and
 * `lock`: start it, stop it (SIGTERM, then SIGKILL after the grace, never
 * after the kill point) when `stop` aborts, SIGKILL it when `kill` aborts,
 * and resolve once its whole process group is gone. A command that cannot
 * be started resolves as exit 127 (not found) or 126 (not executable), as
 * shells report it, with cause `spawn`; `null` when `stop` aborted before it
 * was started.
 */
import { describeExit } from './command-env.js';
import type { CliLog } from './log.js';
import { CommandStartError, type CommandExit, type Supervisor } from './supervised-command.js';

export interface CommandRun {
  readonly command: readonly [string, ...string[]];
  readonly env: Record<string, string>;
  /** Validity left on the lease, in ms (0 when over): feeds the kill schedule. */
  readonly remainingMs: () => number;
  readonly graceMs: number;
  /** Aborted: stop the command gracefully. */
  readonly stop: AbortSignal;
  /** Aborted: SIGKILL the command now. */
  readonly kill: AbortSignal;
  /** Fields for the log lines (the term). */
  readonly fields: Record<string, unknown>;
  /** Log the start and the end at debug level (a restart that is not logged in full). */
  readonly quiet?: boolean;
}

const NOT_EXECUTABLE = 126;
const NOT_FOUND = 127;

export async function runCommand(
  supervisor: Supervisor,
  run: CommandRun,
  log: CliLog,
): Promise<CommandExit | null> {
  // Wait until the supervisor listens; a stop meanwhile means the command is never started.
  let onStop = (): void => {};
  const stopped = new Promise<'stopped'>((resolve) => {
    onStop = () => resolve('stopped');
    if (run.stop.aborted) onStop();
    run.stop.addEventListener('abort', onStop, { once: true });
  });
  const first = await Promise.race([supervisor.ready, stopped]);
  run.stop.removeEventListener('abort', onStop); // one run of many in a term: no listener left behind
  if (first === 'stopped') {
    log.event('not started: stopping', { ...run.fields });
    return null;
  }
  const event = (msg: string, fields: Record<string, unknown>): void =>
    run.quiet === true ? log.debug(fields, msg) : log.event(msg, fields);
  let exit: CommandExit;
  try {
    const running = await supervisor.run(run.command, run.env, run.remainingMs);
    event(`started ${run.command[0]}`, { pid: running.pid, ...run.fields });
    const stop = (): void => running.stop(run.graceMs);
    const kill = (): void => running.kill();
    run.stop.addEventListener('abort', stop, { once: true });
    run.kill.addEventListener('abort', kill, { once: true });
    if (run.stop.aborted) stop();
    if (run.kill.aborted) kill();
    try {
      exit = await running.exited;
    } finally {
      run.stop.removeEventListener('abort', stop);
      run.kill.removeEventListener('abort', kill);
    }
  } catch (error) {
    if (!(error instanceof CommandStartError)) throw error;
    if (error.reason === 'deadline') {
      // Renewals fell so late that the kill point had passed: as if the schedule killed it.
      log.warn({ ...run.fields }, 'not started: the lease deadline is too close');
      exit = { code: null, signal: null, cause: 'deadline' };
    } else {
      log.error({ err: error, command: run.command[0] }, 'could not start the command');
      // As shells report it: 126 found but not executable, 127 not found.
      const code = /\b(EACCES|EISDIR|ENOEXEC|EPERM)\b/.test(error.message)
        ? NOT_EXECUTABLE
        : NOT_FOUND;
      exit = { code, signal: null, cause: 'spawn' };
    }
  }
  event(`command ended: ${describeExit(exit)}`, {
    ...run.fields,
    ...(exit.cause ? { by: exit.cause } : {}),
  });
  return exit;
}

/** The log line for a signal the kill schedule sent without being asked (`Supervisor`'s callback). */
export function logDeadlineSignal(
  log: CliLog,
  fields: Record<string, unknown>,
): (signal: 'SIGTERM' | 'SIGKILL', source: 'supervisor' | 'backstop') => void {
  return (signal, source) =>
    source === 'backstop'
      ? log.warn(
          { ...fields, signal },
          "the supervisor did not report the command's end by the kill point: SIGKILLed the command's process group",
        )
      : log.warn(
          { ...fields, signal },
          'renewals are late: stopping the command before the lease deadline',
        );
}

/**
 * The line for a shutdown signal: while the command runs, how long tenure
 * waits for it and that the signal again kills it (`again`: that second one).
 */
export function logShutdown(
  log: CliLog,
  signal: string,
  running: boolean,
  graceMs: number,
  fields: Record<string, unknown>,
  again = false,
): void {
  if (again) {
    if (running) log.event(`${signal} again: killing the command`, fields);
    return;
  }
  const s = (graceMs / 1000).toFixed(graceMs % 1000 === 0 ? 0 : 1);
  log.event(
    running
      ? `${signal}: stopping the command, waiting up to ${s} s for it to exit; ${signal} again kills it now`
      : `${signal}: stopping`,
    fields,
  );
}
