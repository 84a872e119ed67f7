/**
 * Up-front validation shared by every public entry point. Each failure throws
 * {@link InvalidOptionError} naming the option, the rule and the value
 * received, e.g. ``Expected `renewMs` < `ttlMs`, got 5000 >= 3000``.
 */
import { InvalidOptionError } from '../errors.js';

/** Node clamps larger timer delays to 1 ms, which would turn a renew timer into a hot loop. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Renders a received value for an error message without dumping large or secret-looking objects. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value.length > 40
        ? `${JSON.stringify(value.slice(0, 40))}… (${value.length} characters)`
        : JSON.stringify(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'an array';
      if (Buffer.isBuffer(value)) return 'a Buffer';
      return `an object (${Object.getPrototypeOf(value) === Object.prototype ? 'plain' : (value.constructor?.name ?? 'no prototype')})`;
    default:
      return String(value);
  }
}

function fail(option: string, message: string): never {
  throw new InvalidOptionError(option, message);
}

/**
 * Checks that `value` is a plain options object whose own keys are all known,
 * and returns its own enumerable properties (inherited ones are ignored, so a
 * prototype cannot inject options). `undefined` yields `{}`.
 */
export function ownOptions(
  where: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, `Expected \`${where}\` to be an object, got ${describe(value)}`);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const renamed = RENAMED[key];
      const hint = renamed && known.includes(renamed) ? undefined : suggest(key, known);
      const advice =
        renamed && known.includes(renamed)
          ? ` — it was renamed to \`${renamed}\``
          : hint
            ? ` — did you mean \`${hint}\`?`
            : '';
      fail(key, `Unknown option \`${key}\` in \`${where}\`${advice}`);
    }
    out[key] = (value as Record<string, unknown>)[key];
  }
  return out;
}

/** Option names renamed before 1.0 (one word per meaning); the error names the new one. */
const RENAMED: Readonly<Record<string, string>> = { leaseMs: 'ttlMs', refreshMs: 'renewMs' };

/** Words that mean an option under another name (`lease` is a ttl, `refresh` a renewal). */
const SYNONYMS: Readonly<Record<string, string>> = { lease: 'ttlms', refresh: 'renewms' };

function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const lower = key.toLowerCase();
  const synonym = SYNONYMS[lower.replace(/ms$/, '')];
  const named = known.find((candidate) => candidate.toLowerCase() === synonym);
  if (named) return named;
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    const score = c.startsWith(lower) || lower.startsWith(c) ? 0 : editDistance(lower, c);
    if (score < bestScore) {
      bestScore = score;
      best = candidate;
    }
  }
  return bestScore <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** A safe integer in [min, max]. */
export function integer(
  option: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(
      option,
      `Expected \`${option}\` to be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/** A safe integer in [min, max], or `Infinity`. */
export function integerOrInfinity(option: string, value: unknown, min: number): number {
  if (value === Infinity) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(
      option,
      `Expected \`${option}\` to be an integer >= ${min} or Infinity, got ${describe(value)}`,
    );
  }
  return value;
}

/** A finite number in [min, maxExclusive). */
export function finite(option: string, value: unknown, min: number, maxExclusive: number): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value >= maxExclusive
  ) {
    fail(
      option,
      `Expected \`${option}\` to be a number >= ${min} and < ${maxExclusive}, got ${describe(value)}`,
    );
  }
  return value;
}

/** A cross-field rule; `message` is the full sentence, e.g. ``Expected `a` < `b`, got 5 >= 3``. */
export function rule(option: string, ok: boolean, message: string): void {
  if (!ok) fail(option, message);
}

// Control characters (C0, DEL, C1) make keys unreadable in logs and break line-based tooling.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** An unpaired UTF-16 surrogate (encoded, it becomes U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A string of 1..maxLength characters without control characters or lone
 * surrogates, and not only whitespace. With `noBraces`, `{` and `}` are refused too: tenure owns
 * the Redis Cluster hash tag built from the name.
 */
export function text(option: string, value: unknown, maxLength: number, noBraces = false): string {
  if (typeof value !== 'string')
    fail(option, `Expected \`${option}\` to be a string, got ${describe(value)}`);
  if (value.length === 0 || value.length > maxLength) {
    fail(
      option,
      `Expected \`${option}\` to be 1 to ${maxLength} characters long, got ${value.length} characters`,
    );
  }
  if (value.trim().length === 0)
    fail(option, `Expected \`${option}\` to contain more than whitespace, got ${describe(value)}`);
  if (CONTROL.test(value))
    fail(option, `Expected \`${option}\` to contain no control characters, got ${describe(value)}`);
  // A lone surrogate is encoded as U+FFFD: two such names would be one key on every store.
  if (LONE_SURROGATE.test(value))
    fail(
      option,
      `Expected \`${option}\` to be well-formed Unicode (no lone surrogate), got ${describe(value)}`,
    );
  if (noBraces && /[{}]/.test(value)) {
    fail(
      option,
      `Expected \`${option}\` to contain no \`{\` or \`}\` (tenure builds the cluster hash tag), got ${describe(value)}`,
    );
  }
  return value;
}

export function boolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    fail(option, `Expected \`${option}\` to be a boolean, got ${describe(value)}`);
  return value;
}

export function abortSignal(option: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal))
    fail(option, `Expected \`${option}\` to be an AbortSignal, got ${describe(value)}`);
  return value;
}

export function func<F extends (...args: never[]) => unknown>(option: string, value: unknown): F {
  if (typeof value !== 'function')
    fail(option, `Expected \`${option}\` to be a function, got ${describe(value)}`);
  return value as F;
}
