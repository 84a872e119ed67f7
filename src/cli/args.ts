/**
 * Argument parsing for the `tenure` commands on `node:util` `parseArgs`:
 * strict (an unknown flag is an error naming it), options before `--`, the
 * command to run after it. Every failure is a {@link UsageError}: one line,
 * exit code 64, no stack trace.
 */
import { parseArgs } from 'node:util';

/** A mistake in how tenure was called. Printed as one line; exits 64. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Flags every command accepts. */
export const COMMON: Spec = {
  store: { type: 'string' },
  namespace: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
};

/** Flags of the commands that hold a lease while a command runs (`run`, `lock`). */
export const HOLDER_FLAGS = {
  'lease-ms': { type: 'string' },
  'renew-ms': { type: 'string' },
  'grace-ms': { type: 'string' },
  'kill-margin-ms': { type: 'string' },
  identity: { type: 'string' },
  data: { type: 'string' },
} as const;

export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
  /** Everything after the first `--`, or null when there is no `--`. */
  readonly command: string[] | null;
}

export function parse(argv: readonly string[], spec: Spec): Parsed {
  const dash = argv.indexOf('--');
  const head = dash < 0 ? argv : argv.slice(0, dash);
  try {
    const { values, positionals } = parseArgs({
      args: [...head],
      options: { ...COMMON, ...spec },
      strict: true,
      allowPositionals: true,
    });
    return {
      values,
      positionals,
      command: dash < 0 ? null : argv.slice(dash + 1),
    };
  } catch (error) {
    // parseArgs messages are one line and name the flag ("Unknown option '--x'").
    throw new UsageError((error as Error).message.split('\n')[0] ?? String(error));
  }
}

/** An integer flag in [min, max], or `fallback` when absent. */
export function integerFlag(
  parsed: Parsed,
  flag: string,
  fallback: number,
  min: number,
  max = 2_147_483_647,
): number {
  const raw = parsed.values[flag];
  if (raw === undefined) return fallback;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(
      `--${flag} must be an integer from ${min} to ${max} (milliseconds where the name ends in -ms), got ${JSON.stringify(raw)}`,
    );
  return value;
}

export function stringFlag(parsed: Parsed, flag: string): string | undefined {
  const raw = parsed.values[flag];
  return typeof raw === 'string' ? raw : undefined;
}

export function booleanFlag(parsed: Parsed, flag: string): boolean {
  return parsed.values[flag] === true;
}

/** Exactly one positional argument, named `what` in the error. */
export function onePositional(parsed: Parsed, what: string): string {
  if (parsed.positionals.length !== 1)
    throw new UsageError(
      parsed.positionals.length === 0
        ? `Missing <${what}>`
        : `Expected one <${what}>, got ${parsed.positionals.length}: ${parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}`,
    );
  return parsed.positionals[0] as string;
}

/** The command after `--`, required and non-empty. */
export function commandAfterDash(parsed: Parsed): [string, ...string[]] {
  const command = parsed.command;
  if (command === null || command.length === 0 || command[0] === '')
    throw new UsageError('Missing the command to run: put it after `--`, e.g. `-- ./backup.sh`');
  return command as [string, ...string[]];
}
