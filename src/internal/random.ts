import { randomBytes, randomInt } from 'node:crypto';
import { hostname } from 'node:os';

/** `hostname:pid:xxxx`: informational only, never used as the ownership token. */
export function defaultIdentity(): string {
  return `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
}

/** Uniform integer jitter in [0, maxMs]. */
export function jitter(maxMs: number): number {
  return maxMs <= 0 ? 0 : randomInt(0, Math.floor(maxMs) + 1);
}
