/**
 * Lease data is any JSON value, published with the lease and readable by
 * everyone (for example the leader's address). It is stored as JSON text.
 */
import { InvalidOptionError } from '../errors.js';

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Upper bound on encoded data: it travels with every acquisition and read. */
export const MAX_DATA_BYTES = 64 * 1024;

export function encodeData(option: string, value: unknown): string {
  if (value === undefined) return '';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new InvalidOptionError(
      option,
      `Expected \`${option}\` to be JSON-serializable, got an error: ${(error as Error).message}`,
    );
  }
  if (text === undefined)
    throw new InvalidOptionError(
      option,
      `Expected \`${option}\` to be JSON-serializable, got ${typeof value}`,
    );
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_DATA_BYTES) {
    throw new InvalidOptionError(
      option,
      `Expected \`${option}\` to encode to at most ${MAX_DATA_BYTES} bytes, got ${bytes}`,
    );
  }
  return text;
}

/** Decodes stored data; text that is not JSON (written by another tool) is returned as a string. */
export function decodeData(text: string): JsonValue | undefined {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}
