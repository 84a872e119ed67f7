/** etcd3's errors onto tenure's typed errors, with the right `ambiguous` and `retryable`. */
import {
  ClientClosedError,
  EtcdError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCGenericError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
} from 'etcd3';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  PermissionError,
  StoreClosedError,
  StoreError,
  StoreUnavailableError,
} from '../../src/errors.js';
import { classifyEtcdError } from '../../src/lock/etcd/classify-error.js';

const cases: [
  string,
  Error,
  new (...args: never[]) => StoreError | ConfigurationError,
  boolean,
  boolean,
][] = [
  // [what, error, class, ambiguous, retryable]
  [
    'etcd auth: permission denied',
    new EtcdPermissionDeniedError('etcdserver: permission denied'),
    PermissionError,
    false,
    false,
  ],
  [
    'wrong password',
    new GRPCGenericError(
      '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password',
    ),
    PermissionError,
    false,
    false,
  ],
  [
    'value too large',
    new GRPCGenericError('3 INVALID_ARGUMENT: etcdserver: request is too large'),
    ConfigurationError,
    false,
    false,
  ],
  [
    'too many requests',
    new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: etcdserver: too many requests'),
    StoreUnavailableError,
    false,
    true,
  ],
  [
    'NOSPACE alarm',
    new GRPCResourceExhastedError(
      '8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded',
    ),
    StoreUnavailableError,
    false,
    true,
  ],
  [
    'connection refused',
    new GRPCUnavailableError(
      '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1',
    ),
    StoreUnavailableError,
    false,
    true,
  ],
  [
    'lease expired before use',
    new EtcdLeaseInvalidError('etcdserver: requested lease not found'),
    StoreError,
    false,
    true,
  ],
  [
    'no leader (quorum lost)',
    new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: no leader'),
    StoreUnavailableError,
    true,
    true,
  ],
  [
    'leader changed',
    new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: leader changed'),
    StoreUnavailableError,
    true,
    true,
  ],
  [
    'proposal timed out',
    new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: request timed out'),
    StoreUnavailableError,
    true,
    true,
  ],
  [
    'deadline exceeded',
    new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED: Deadline exceeded'),
    StoreUnavailableError,
    true,
    true,
  ],
  [
    'cancelled',
    new GRPCCancelledError('1 CANCELLED: Cancelled on client'),
    StoreUnavailableError,
    true,
    true,
  ],
  [
    'connection dropped',
    new GRPCUnavailableError('14 UNAVAILABLE: Connection dropped'),
    StoreUnavailableError,
    true,
    true,
  ],
  ['unknown etcdserver error', new EtcdError('etcdserver: something new'), StoreError, true, true],
];

describe('classifyEtcdError', () => {
  for (const [what, error, type, ambiguous, retryable] of cases) {
    it(`${what} → ${type.name}, ambiguous ${ambiguous}, retryable ${retryable}`, () => {
      const mapped = classifyEtcdError(error, 'acquire', 'job');
      expect(mapped).toBeInstanceOf(type);
      expect(mapped.cause).toBe(error);
      if (mapped instanceof StoreError) {
        expect(mapped.ambiguous).toBe(ambiguous);
        expect(mapped.retryable).toBe(retryable);
      } else {
        expect([ambiguous, retryable]).toEqual([false, false]);
      }
      expect(mapped.message).toContain('`acquire` on "job"');
    });
  }

  it('a write whose last attempt was refused may have been applied by an earlier one (etcd3 retries)', () => {
    const refused = new GRPCUnavailableError(
      '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1',
    );
    expect(classifyEtcdError(refused, 'read', 'job', false)).toMatchObject({ ambiguous: false });
    expect(classifyEtcdError(refused, 'release', 'job', true)).toMatchObject({
      ambiguous: true,
      retryable: true,
    });
  });

  it('a client closed by its owner is a closed store', () => {
    expect(classifyEtcdError(new ClientClosedError('KV'), 'renew', 'job')).toBeInstanceOf(
      StoreClosedError,
    );
  });
});
