/** What `run` and `lock` hand the command, and how its end becomes an exit code. */
import { type Parsed, UsageError, stringFlag } from './args.js';
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

/**
 * The data published with the lease: `--data` as JSON (a typo such as
 * `{bad` is an error, not a string), or `--data-string` taken as it is.
 */
export function dataFlag(parsed: Parsed): unknown {
  const json = stringFlag(parsed, 'data');
  const text = stringFlag(parsed, 'data-string');
  if (json !== undefined && text !== undefined)
    throw new UsageError('Pass --data (JSON) or --data-string (plain text), not both');
  if (text !== undefined) return text;
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    throw new UsageError(
      `--data must be JSON (for plain text use --data-string), got ${JSON.stringify(json)}: ${(error as Error).message}`,
    );
  }
}
