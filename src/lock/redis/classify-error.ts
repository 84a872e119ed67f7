/**
 * Maps whatever ioredis rejected with to a typed tenure error (FAULT-PLAN
 * §3.3). Redis error replies are classified by their prefix; script errors
 * keep the original prefix and add a `script: <sha>` suffix. The ioredis
 * error's `command.args` (which carry the ownership token) are redacted before
 * the error is attached as `cause`.
 */
import {
  ClusterMisconfigurationError,
  ConfigurationError,
  InternalError,
  LockKeyConflictError,
  NotEnoughReplicasError,
  PermissionError,
  ReadOnlyReplicaError,
  ScriptMissingError,
  StoreError,
  StoreUnavailableError,
  type TenureError,
} from '../../errors.js';

const TRANSIENT = ['BUSY', 'LOADING', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'OOM'];
/** Cluster answers that mean "not executed here": routing, or the cluster not serving. */
const ROUTING = ['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN'];
const CONNECTION = [
  'Connection is closed',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'Command timed out',
  // ioredis, for the commands of a pipeline left unanswered when its connection closed
  'Command aborted due to connection close',
];
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
]);

export function classifyRedisError(error: unknown, operation: string, key: string): TenureError {
  if (error instanceof StoreError) return error;
  const cause = redact(error);
  const message = error instanceof Error ? error.message : String(error);
  const prefix = message.split(' ', 1)[0] ?? '';
  const where = `Redis refused \`${operation}\` on ${JSON.stringify(key)}`;

  if (prefix === 'READONLY') {
    return new ReadOnlyReplicaError(
      `${where}: the server is a read-only replica (point the client at the primary, or use Sentinel)`,
      { cause },
    );
  }
  if (prefix === 'NOREPLICAS')
    return new NotEnoughReplicasError(`${where}: not enough good replicas to write`, { cause });
  if (prefix === 'NOSCRIPT')
    return new ScriptMissingError(`${where}: script missing even after EVAL`, { cause });
  if (prefix === 'WRONGTYPE')
    return new LockKeyConflictError(key, 'value of another type', 'seen by a script', { cause });
  if (prefix === 'MOVED' || prefix === 'ASK') {
    return new ClusterMisconfigurationError(
      `${where}: the server is a Redis Cluster node; pass an ioredis Cluster instance`,
      { cause },
    );
  }
  if (prefix === 'NOPERM' || message.includes("can't run this command")) {
    return new PermissionError(
      `${where}: ACL denied it. Minimal ACL: ~{<namespace>:* &{<namespace>:* +evalsha +eval +type +hmget +hget +hset +pexpire +pttl +exists +del +incr +get +set +hdel +time +publish +zadd +zrange +zrem +zscore +zrangebyscore +subscribe +unsubscribe`,
      { cause },
    );
  }
  if (message.includes('subscriber mode')) {
    return new ConfigurationError(
      `${where}: the client is in subscriber mode; give tenure a connection that is not used for SUBSCRIBE`,
      { cause },
    );
  }
  if (prefix === 'WRONGPASS' || prefix === 'NOAUTH') {
    return new PermissionError(`${where}: authentication failed (${prefix})`, { cause });
  }
  if (prefix === 'CROSSSLOT' || message.includes('non local key')) {
    return new InternalError(`${where}: keys are not in one slot (${prefix})`, { cause });
  }
  if (TRANSIENT.includes(prefix)) {
    return new StoreUnavailableError(
      `${where}: server is temporarily unable to serve (${prefix})`,
      { cause, ambiguous: false },
    );
  }
  // An ioredis Cluster gave up following redirections: the last node did not run the command
  // (a routing answer), or the connection failed (it may have).
  const redirected = /^Too many Cluster redirections\. Last error: (?:\w*Error: )?(\S+)/.exec(
    message,
  );
  if (redirected) {
    const last = redirected[1] ?? '';
    return new StoreUnavailableError(
      `${where}: the Cluster kept redirecting it (last answer: ${last})`,
      { cause, ambiguous: !ROUTING.includes(last) },
    );
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (
    CONNECTION.some((m) => message.startsWith(m)) ||
    (typeof code === 'string' && SOCKET_CODES.has(code))
  ) {
    return new StoreUnavailableError(
      `Redis connection failed during \`${operation}\` on ${JSON.stringify(key)}: ${message}`,
      {
        cause,
        ambiguous: true,
      },
    );
  }
  return new StoreError(`Redis failed \`${operation}\` on ${JSON.stringify(key)}: ${message}`, {
    cause,
    ambiguous: true,
  });
}

/** Removes command arguments (ownership tokens) from an ioredis error before it is exposed. */
function redact(error: unknown): unknown {
  if (error && typeof error === 'object' && 'command' in error) {
    const command = (error as { command?: { name?: unknown } }).command;
    try {
      (error as { command?: unknown }).command = { name: command?.name, args: '[redacted]' };
    } catch {
      // Frozen or non-writable: drop the reference instead of leaking it.
      return new Error(String((error as { message?: unknown }).message));
    }
  }
  return error;
}
