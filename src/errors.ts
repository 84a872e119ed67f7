/**
 * Every error tenure throws or emits is a {@link TenureError} with a stable
 * string `code`. Subclasses exist for each failure a caller can act on; the
 * underlying error (an ioredis `ReplyError`, a socket error) is in `cause`,
 * with command arguments redacted so ownership tokens never leak into logs.
 */

export type TenureErrorCode =
  | 'TENURE_INVALID_OPTION'
  | 'TENURE_CONFIGURATION'
  | 'TENURE_PERMISSION'
  | 'TENURE_SCHEMA_MISSING'
  | 'TENURE_CLUSTER_MISCONFIGURED'
  | 'TENURE_STORE_ERROR'
  | 'TENURE_STORE_UNAVAILABLE'
  | 'TENURE_STORE_TIMEOUT'
  | 'TENURE_STORE_CLOSED'
  | 'TENURE_READONLY'
  | 'TENURE_NOREPLICAS'
  | 'TENURE_NOSCRIPT'
  | 'TENURE_KEY_CONFLICT'
  | 'TENURE_LOCK_LOST'
  | 'TENURE_NOT_ACQUIRED'
  | 'TENURE_STOPPED'
  | 'TENURE_INTERNAL';

/** Base class: `code` identifies the failure, `cause` the underlying error. */
export class TenureError extends Error {
  readonly code: TenureErrorCode;

  constructor(code: TenureErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** An argument or option failed validation. Thrown synchronously, before any I/O. */
export class InvalidOptionError extends TenureError {
  /** The option (or argument) that was rejected. */
  readonly option: string;
  constructor(option: string, message: string) {
    super('TENURE_INVALID_OPTION', message);
    this.option = option;
  }
}

/**
 * The environment is wrong in a way retrying will not fix: bad credentials,
 * a plain client on a cluster node, missing ACL permissions.
 */
export class ConfigurationError extends TenureError {
  constructor(
    message: string,
    options?: { cause?: unknown },
    code: TenureErrorCode = 'TENURE_CONFIGURATION',
  ) {
    super(code, message, options);
  }
}

/**
 * PostgreSQL: the lease table (or its schema) does not exist. Create it once
 * with `store.createTable()` (or `tenure init`, or apply `schema.sql`).
 */
export class SchemaMissingError extends ConfigurationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'TENURE_SCHEMA_MISSING');
  }
}

/** ACL denied a command or key (`NOPERM`), or authentication failed (`WRONGPASS`, `NOAUTH`). */
export class PermissionError extends ConfigurationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'TENURE_PERMISSION');
  }
}

/** A standalone client was pointed at a Redis Cluster node (`MOVED`/`ASK`). */
export class ClusterMisconfigurationError extends ConfigurationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'TENURE_CLUSTER_MISCONFIGURED');
  }
}

/** What a store error says about the operation; see docs/safety.md, "Error classification". */
export interface StoreErrorOptions {
  cause?: unknown;
  /** The operation may have been applied. @default false */
  ambiguous?: boolean;
  /** "Not now" rather than "not yours": a held lease stays valid and is retried until its deadline. @default ambiguous */
  retryable?: boolean;
}

/**
 * A store operation failed. Two independent facts: whether it may have been
 * applied (`ambiguous`) and whether retrying may succeed (`retryable`).
 * A held lease ends early only on an error that is not retryable (a definite
 * refusal such as a read-only replica); retryable ones are retried until
 * the lease's deadline.
 */
export class StoreError extends TenureError {
  /**
   * `true` when the operation may or may not have been applied (timeout, lost
   * connection). `false` when the store definitely did not apply it.
   */
  readonly ambiguous: boolean;
  /**
   * `true` when the store said "not now" (timeout, lost connection, `BUSY`,
   * `LOADING`, ...): retrying may succeed. `false` for a definite refusal.
   */
  readonly retryable: boolean;
  constructor(
    message: string,
    options?: StoreErrorOptions,
    code: TenureErrorCode = 'TENURE_STORE_ERROR',
  ) {
    super(code, message, options);
    this.ambiguous = options?.ambiguous ?? false;
    this.retryable = options?.retryable ?? this.ambiguous;
  }
}

/**
 * The store could not be reached or is in a transient state (connection
 * closed or reset, `LOADING`, `BUSY`, `MASTERDOWN`, `TRYAGAIN`, `OOM`):
 * retryable. Ambiguous only when the request may have reached the server.
 */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, options?: StoreErrorOptions) {
    super(
      message,
      { ...options, retryable: options?.retryable ?? true },
      'TENURE_STORE_UNAVAILABLE',
    );
  }
}

/**
 * No reply within the per-request timeout. Always ambiguous: the request may
 * still execute later. A late reply is never trusted to extend validity.
 */
export class StoreTimeoutError extends StoreError {
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number) {
    super(
      `Store did not answer \`${operation}\` within ${timeoutMs} ms`,
      { ambiguous: true },
      'TENURE_STORE_TIMEOUT',
    );
    this.timeoutMs = timeoutMs;
  }
}

/** The store was closed by its owner; no further operations are possible. */
export class StoreClosedError extends StoreError {
  constructor(message = 'The lease store is closed') {
    super(message, {}, 'TENURE_STORE_CLOSED');
  }
}

/** The Redis server is a read-only replica (`READONLY`). Definite: nothing was written. */
export class ReadOnlyReplicaError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'TENURE_READONLY');
  }
}

/**
 * Not enough replicas: Redis refused the write (`NOREPLICAS`, definite), or
 * `WAIT` confirmed fewer replicas than `waitReplicas` (ambiguous: the write
 * happened on the primary but is not counted).
 */
export class NotEnoughReplicasError extends StoreError {
  constructor(message: string, options?: StoreErrorOptions) {
    super(message, options, 'TENURE_NOREPLICAS');
  }
}

/**
 * The server answered `NOSCRIPT` even after the script was resent with
 * `EVAL`. Ordinary script-cache loss (restart, failover, `SCRIPT FLUSH`) is
 * handled transparently and never surfaces as this error.
 */
export class ScriptMissingError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'TENURE_NOSCRIPT');
  }
}

/**
 * A lease key (or its fencing counter) holds data this library did not write:
 * another Redis type, or a lease without expiry. Nothing is overwritten; an
 * operator must delete the key. Definite.
 */
export class LockKeyConflictError extends StoreError {
  readonly key: string;
  /** The Redis type found at the key (`hash`, `string`, `list`...), or `unknown`. */
  readonly type: string;
  constructor(key: string, type: string, detail: string, options?: { cause?: unknown }) {
    super(
      `Key ${JSON.stringify(key)} holds a ${type} ${detail}; tenure will not overwrite it`,
      options,
      'TENURE_KEY_CONFLICT',
    );
    this.key = key;
    this.type = type;
  }
}

/** Why a held lease stopped being trusted. */
export type LossReason =
  /** The local deadline passed without a confirmed renewal. */
  | 'deadline'
  /** The store says the lease expired or belongs to another owner. */
  | 'lost'
  /** The store definitively refused the renewal (read-only replica, no replicas). */
  | 'refused'
  /** The holder released it. */
  | 'released';

/** A held lock can no longer be trusted. Used as the `reason` of `lock.signal`. */
export class LockLostError extends TenureError {
  readonly reason: LossReason;
  constructor(name: string, reason: LossReason, options?: { cause?: unknown }) {
    super(
      'TENURE_LOCK_LOST',
      `Lock ${JSON.stringify(name)} is no longer held (${reason})`,
      options,
    );
    this.reason = reason;
  }
}

/** `lock()` gave up after `retryLimit` retries. `cause` is the last error, if any. */
export class LockNotAcquiredError extends TenureError {
  readonly attempts: number;
  constructor(name: string, attempts: number, options?: { cause?: unknown }) {
    super(
      'TENURE_NOT_ACQUIRED',
      `Lock ${JSON.stringify(name)} not acquired after ${attempts} attempts`,
      options,
    );
    this.attempts = attempts;
  }
}

/** An operation on a stopped component. */
export class StoppedError extends TenureError {
  constructor(message: string) {
    super('TENURE_STOPPED', message);
  }
}

/** An invariant of tenure itself broke (unexpected reply shape, cross-slot keys). A bug: please report it. */
export class InternalError extends TenureError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TENURE_INTERNAL', message, options);
  }
}
