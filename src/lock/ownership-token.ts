import { createHash, randomFillSync } from 'node:crypto';
import { inspect } from 'node:util';

/*
 * Entropy is read from the OS CSPRNG 4 KiB at a time and handed out in
 * 16-byte slices that are never reused: one `randomFillSync` per 256 tokens
 * instead of one per token (the call costs about 10 µs on a small VM, more
 * than the rest of a lock cycle's JavaScript). Node's `crypto.randomUUID()`
 * batches the same way.
 */
const POOL_BYTES = 4096;
const TOKEN_BYTES = 16;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

function nextTokenValue(): string {
  if (offset + TOKEN_BYTES > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const value = pool.toString('base64url', offset, offset + TOKEN_BYTES);
  pool.fill(0, offset, offset + TOKEN_BYTES); // a slice is handed out once
  offset += TOKEN_BYTES;
  return value;
}

/**
 * The capability that proves ownership of one lease acquisition: 128 random
 * bits from the OS CSPRNG, fresh for every acquisition, never derived from
 * identity, pid or time. Its value is kept out of `toString()`, `JSON` and
 * `util.inspect` output; only a short SHA-256 fingerprint is shown, for
 * correlating logs. Store implementations read it with {@link OwnershipToken.reveal}.
 */
export class OwnershipToken {
  // A private field: invisible to JSON, Object.keys, util.inspect and structuredClone.
  readonly #value: string;
  #fingerprint: string | undefined;

  private constructor(value: string) {
    this.#value = value;
  }

  /** A new random token. */
  static generate(): OwnershipToken {
    return new OwnershipToken(nextTokenValue());
  }

  /** First 8 hex characters of SHA-256 of the token: safe to log. Computed on first use. */
  get fingerprint(): string {
    this.#fingerprint ??= createHash('sha256').update(this.#value).digest('hex').slice(0, 8);
    return this.#fingerprint;
  }

  /** For store implementations only: the secret value to send to the store. Never log it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return `OwnershipToken(${this.fingerprint})`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
