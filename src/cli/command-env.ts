/** What `run` and `lock` hand the command, and how its end becomes an exit code. */
import { signalExitCode } from './exit-codes.js';
import { type CommandExit, withoutStore } from './supervised-command.js';

/**
 * The command's environment: tenure's own variables over the inherited ones,
 * without TENURE_STORE (it may hold the store's password; the command gets
 * its term, not the store).
 */
export function commandEnv(vars: {
  readonly TENURE_TERM: number;
  readonly TENURE_IDENTITY: string;
  readonly TENURE_ELECTION?: string;
  readonly TENURE_LOCK?: string;
}): Record<string, string> {
  const env = withoutStore(process.env);
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = String(v);
  return env;
}

/** The command's exit status as a shell reports it: its code, or 128 + the signal's number. */
export function exitStatus(exit: CommandExit): number {
  if (exit.code !== null) return exit.code;
  return exit.signal === null ? 1 : signalExitCode(exit.signal);
}

export function describeExit(exit: CommandExit): string {
  if (exit.code !== null) return `exit code ${exit.code}`;
  return exit.signal !== null ? `signal ${exit.signal}` : 'not started';
}

/** `--data`: a JSON value, or taken as a plain string when it is not JSON. */
export function dataFlag(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}
