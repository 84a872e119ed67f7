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
  'data-string': { type: 'string' },
} as const;

export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
  /** Everything after the first `--`, or null when there is no `--`. */
  readonly command: string[] | null;
}

/**
 * Parses `argv` (what follows the command's name) against `spec` plus
 * {@link COMMON}. `command` names the tenure command in error messages;
 * `takesCommand`: it runs a command after `--`, so a stray word or flag
 * before a missing `--` gets that hint.
 */
export function parse(
  argv: readonly string[],
  spec: Spec,
  command = '',
  takesCommand = false,
): Parsed {
  const dash = argv.indexOf('--');
  const head = dash < 0 ? argv : argv.slice(0, dash);
  const options = { ...COMMON, ...spec };
  let parsed: Omit<Parsed, 'command'>;
  try {
    parsed = parseArgs({ args: [...head], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(usageMessage(error, options, command, takesCommand && dash < 0));
  }
  if (takesCommand && dash < 0 && parsed.positionals.length > 1)
    throw new UsageError(
      `Expected one <${command === 'lock' ? 'name' : 'election'}>, got ${parsed.positionals.length}: ${parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}; ${DASH_HINT(command, parsed.positionals)}`,
    );
  return { ...parsed, command: dash < 0 ? null : argv.slice(dash + 1) };
}

const DASH_HINT = (command: string, words: readonly string[]): string =>
  `put the command to run after \`--\`: tenure ${command} ${words[0] ?? '<name>'} [options] -- ${words.slice(1).join(' ') || '<command>'}`;

/**
 * One line for a `parseArgs` failure: the flag, a "did you mean" for a near
 * miss, the `--` hint where it applies, and where the options are listed.
 */
function usageMessage(
  error: unknown,
  options: Spec,
  command: string,
  dashMissing: boolean,
): string {
  const help = command === '' ? '`tenure --help`' : `\`tenure ${command} --help\``;
  const { code, message } = error as { code?: string; message: string };
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? '';
    const near = nearest(flag.replace(/^-+/, '').replace(/=.*$/, ''), Object.keys(options));
    const parts = [`Unknown option ${flag}${command === '' ? '' : ` for tenure ${command}`}`];
    if (near !== null) parts.push(`did you mean --${near}?`);
    if (dashMissing) parts.push('a flag of the command to run goes after `--`');
    return `${parts.join('; ')} (${help} lists the options)`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
    if (/ambiguous/.test(message))
      return `${flag} needs a value; one that starts with '-' is written ${flag}=<value> (${help} lists the options)`;
    const needsValue = /argument missing/.test(message);
    return `${flag} ${needsValue ? 'needs a value' : 'takes no value'} (${help} lists the options)`;
  }
  return message.split('\n')[0] ?? String(error);
}

/** The known flag closest to `typed` (edit distance ≤ 2, or a prefix of one), or null. */
export function nearest(typed: string, known: readonly string[]): string | null {
  if (typed === '') return null;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = name.startsWith(typed) && typed.length >= 3 ? 1 : distance(typed, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return bestDistance <= Math.min(2, Math.max(1, Math.floor(typed.length / 3))) ? best : null;
}

/** Damerau–Levenshtein distance (optimal string alignment): a swap of two letters costs 1. */
function distance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const up = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        (up[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (up[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = d;
    }
  return (rows[a.length] as number[])[b.length] as number;
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
