import { describe, expect, it } from 'vitest';
import { isRetryable } from '../../src/lock/error-kinds.js';
import { classifyRedisError } from '../../src/lock/redis/classify-error.js';

// Error strings as Redis 7.0 sends them (script errors keep the prefix and add a suffix).
const cases: [string, string, string, boolean?][] = [
  [
    "READONLY You can't write against a read only replica. script: 4e6d, on @user_script:27.",
    'ReadOnlyReplicaError',
    'TENURE_READONLY',
    false,
  ],
  [
    'NOREPLICAS Not enough good replicas to write.',
    'NotEnoughReplicasError',
    'TENURE_NOREPLICAS',
    false,
  ],
  ['NOSCRIPT No matching script. Please use EVAL.', 'ScriptMissingError', 'TENURE_NOSCRIPT'],
  [
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'LockKeyConflictError',
    'TENURE_KEY_CONFLICT',
    false,
  ],
  ['MOVED 3999 127.0.0.1:6381', 'ClusterMisconfigurationError', 'TENURE_CLUSTER_MISCONFIGURED'],
  ['ASK 3999 127.0.0.1:6381', 'ClusterMisconfigurationError', 'TENURE_CLUSTER_MISCONFIGURED'],
  ["CROSSSLOT Keys in request don't hash to the same slot", 'InternalError', 'TENURE_INTERNAL'],
  [
    'ERR Script attempted to access a non local key in a cluster node',
    'InternalError',
    'TENURE_INTERNAL',
  ],
  [
    'NOPERM this user has no permissions to access one of the keys used as arguments',
    'PermissionError',
    'TENURE_PERMISSION',
  ],
  [
    "ERR The user executing the script can't run this command or subcommand",
    'PermissionError',
    'TENURE_PERMISSION',
  ],
  [
    'WRONGPASS invalid username-password pair or user is disabled.',
    'PermissionError',
    'TENURE_PERMISSION',
  ],
  ['NOAUTH Authentication required.', 'PermissionError', 'TENURE_PERMISSION'],
  [
    'BUSY Redis is busy running a script.',
    'StoreUnavailableError',
    'TENURE_STORE_UNAVAILABLE',
    false,
  ],
  [
    'LOADING Redis is loading the dataset in memory',
    'StoreUnavailableError',
    'TENURE_STORE_UNAVAILABLE',
    false,
  ],
  [
    'MASTERDOWN Link with MASTER is down',
    'StoreUnavailableError',
    'TENURE_STORE_UNAVAILABLE',
    false,
  ],
  [
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'StoreUnavailableError',
    'TENURE_STORE_UNAVAILABLE',
    false,
  ],
  [
    "OOM command not allowed when used memory > 'maxmemory'.",
    'StoreUnavailableError',
    'TENURE_STORE_UNAVAILABLE',
    false,
  ],
  ['Connection is closed.', 'StoreUnavailableError', 'TENURE_STORE_UNAVAILABLE', true],
  [
    'Reached the max retries per request limit (which is 1).',
    'StoreUnavailableError',
    'TENURE_STORE_UNAVAILABLE',
    true,
  ],
  [
    "Stream isn't writeable and enableOfflineQueue options is false",
    'StoreUnavailableError',
    'TENURE_STORE_UNAVAILABLE',
    true,
  ],
  [
    'Connection in subscriber mode, only subscriber commands may be used',
    'ConfigurationError',
    'TENURE_CONFIGURATION',
  ],
  ['ERR something new', 'StoreError', 'TENURE_STORE_ERROR', true],
];

describe('classifyRedisError', () => {
  // docs/safety.md, "Error classification": "not now" is retried until the deadline,
  // only a definite refusal ends a held lease early.
  it.each([
    ['BUSY Redis is busy running a script.', true],
    ['LOADING Redis is loading the dataset in memory', true],
    ['MASTERDOWN Link with MASTER is down', true],
    ['CLUSTERDOWN The cluster is down', true],
    ['TRYAGAIN Multiple keys request during rehashing of slot', true],
    ["OOM command not allowed when used memory > 'maxmemory'.", true],
    ['Connection is closed.', true],
    ['ERR something new', true],
    ["READONLY You can't write against a read only replica.", false],
    ['NOREPLICAS Not enough good replicas to write.', false],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', false],
  ])('%s → retryable %s', (message, retryable) => {
    const error = classifyRedisError(new Error(message), 'renew', '{tenure:a}:lease');
    expect(isRetryable(error)).toBe(retryable);
  });

  it.each(cases)('%s → %s', (message, name, code, ambiguous) => {
    const error = classifyRedisError(new Error(message), 'acquire', '{tenure:a}:lease');
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    if (ambiguous !== undefined)
      expect((error as unknown as { ambiguous: boolean }).ambiguous).toBe(ambiguous);
  });

  it.each([
    [
      'Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request during rehashing of slot',
      false,
    ],
    ['Too many Cluster redirections. Last error: ReplyError: ASK 14908 127.0.0.1:7001', false],
    ['Too many Cluster redirections. Last error: MOVED 14908 127.0.0.1:7001', false],
    ['Too many Cluster redirections. Last error: Error: Connection is closed.', true],
  ])(
    'an ioredis Cluster that gave up redirecting (%s) is "not now", ambiguous %s',
    (message, ambiguous) => {
      const error = classifyRedisError(new Error(message), 'acquire', '{tenure:a}:lease');
      expect(error).toMatchObject({ code: 'TENURE_STORE_UNAVAILABLE', ambiguous });
      expect(isRetryable(error)).toBe(true);
    },
  );

  it('classifies socket errors by code as ambiguous unavailability', () => {
    const socket = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(classifyRedisError(socket, 'renew', 'k')).toMatchObject({
      code: 'TENURE_STORE_UNAVAILABLE',
      ambiguous: true,
    });
  });

  it('redacts command arguments (ownership tokens) from the cause', () => {
    const reply = Object.assign(new Error('READONLY no'), {
      command: { name: 'evalsha', args: ['sha', '1', 'key', 'SECRET-TOKEN'] },
    });
    const error = classifyRedisError(reply, 'renew', 'key');
    expect(JSON.stringify(error.cause)).not.toContain('SECRET-TOKEN');
    expect(JSON.stringify((error.cause as { command: unknown }).command)).not.toContain(
      'SECRET-TOKEN',
    );
  });
});
