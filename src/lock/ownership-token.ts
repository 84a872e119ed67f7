import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

const secrets = new WeakMap<OwnershipToken, string>();

/**
 * The capability that proves ownership of one lease acquisition: 128 random
 * bits from the OS CSPRNG, fresh for every acquisition, never derived from
 * identity, pid or time. Its value is kept out of `toString()`, `JSON` and
 * `util.inspect` output; only a short SHA-256 fingerprint is shown, for
 * correlating logs. Store implementations read it with {@link OwnershipToken.reveal}.
 */
export class OwnershipToken {
  /** First 8 hex characters of SHA-256 of the token: safe to log. */
  readonly fingerprint: string;

  private constructor(value: string) {
    secrets.set(this, value);
    this.fingerprint = createHash('sha256').update(value).digest('hex').slice(0, 8);
  }

  /** A new random token. */
  static generate(): OwnershipToken {
    return new OwnershipToken(randomBytes(16).toString('base64url'));
  }

  /** For store implementations only: the secret value to send to the store. Never log it. */
  reveal(): string {
    return secrets.get(this) as string;
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
