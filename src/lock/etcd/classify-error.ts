/**
 * Maps whatever the `etcd3` client rejected with to a typed tenure error
 * (docs/safety.md, "Error classification"). etcd3 turns gRPC errors into its
 * own classes but keeps the server's message (`etcdserver: …`), which names
 * the cause more precisely than the gRPC status, so the message decides
 * first and the class second:
 *
 * | failure                                                   | error                 | ambiguous | retryable |
 * |-----------------------------------------------------------|-----------------------|-----------|-----------|
 * | permission denied, authentication failed (etcd auth)      | PermissionError       | no        | no        |
 * | request too large, too many txn operations, not capable   | ConfigurationError    | no        | no        |
 * | too many requests, database space exceeded (NOSPACE)      | StoreUnavailableError | writes    | yes       |
 * | connection refused, no connection, open circuit breaker   | StoreUnavailableError | writes    | yes       |
 * | requested lease not found (a grant expired before use)    | StoreError            | no        | yes       |
 * | no leader, leader changed, request timed out, stopped     | StoreUnavailableError | yes       | yes       |
 * | deadline exceeded, cancelled, lost connection             | StoreUnavailableError | yes       | yes       |
 * | client closed by its owner                                | StoreClosedError      | no        | no        |
 * | anything else                                             | StoreError            | yes       | yes       |
 *
 * "No leader" and "request timed out" are ambiguous: etcd returns them also
 * for a proposal that was already in the Raft log and may still commit.
 *
 * For a write (`write: true`) every transient failure is ambiguous: etcd3
 * retries a failed request up to 3 times on other members and reports only
 * the last failure, so "connection refused" may hide an earlier attempt that
 * reached etcd and was applied (a review reproduced an update and a release
 * applied but reported as not applied).
 */
import {
  ConfigurationError,
  PermissionError,
  StoreClosedError,
  StoreError,
  StoreUnavailableError,
  TenureError,
} from '../../errors.js';

const DEFINITE_TRANSIENT = [
  'etcdserver: too many requests',
  'etcdserver: mvcc: database space exceeded',
  'ECONNREFUSED',
  'No connection established',
];
const AMBIGUOUS_TRANSIENT = [
  'etcdserver: no leader',
  'etcdserver: leader changed',
  'etcdserver: request timed out',
  'etcdserver: server stopped',
  'etcdserver: stopped',
];
const CONFIGURATION = [
  'etcdserver: request is too large',
  'etcdserver: too many operations in txn request',
  'etcdserver: not capable',
];
const PERMISSION = [
  'etcdserver: permission denied',
  'etcdserver: authentication failed',
  'etcdserver: user name is empty',
  'etcdserver: invalid auth management',
];

export function classifyEtcdError(
  error: unknown,
  operation: string,
  name: string,
  write = false,
): TenureError {
  if (error instanceof TenureError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const kind = error instanceof Error ? error.constructor.name : '';
  const where = `etcd: \`${operation}\` on ${JSON.stringify(name)} failed`;
  const has = (list: readonly string[]): boolean => list.some((m) => message.includes(m));
  if (has(PERMISSION) || kind === 'EtcdPermissionDeniedError')
    return new PermissionError(
      `${where}: ${message} (grant the user read and write on the prefix)`,
      {
        cause: error,
      },
    );
  if (has(CONFIGURATION)) return new ConfigurationError(`${where}: ${message}`, { cause: error });
  if (kind === 'ClientClosedError')
    return new StoreClosedError(`${where}: the etcd client was closed by its owner`);
  if (kind === 'EtcdLeaseInvalidError')
    return new StoreError(`${where}: ${message}`, {
      cause: error,
      ambiguous: false,
      retryable: true,
    });
  if (has(DEFINITE_TRANSIENT) || kind === 'BrokenCircuitError')
    return new StoreUnavailableError(`${where}: ${message}`, { cause: error, ambiguous: write });
  if (
    has(AMBIGUOUS_TRANSIENT) ||
    kind === 'GRPCUnavailableError' ||
    kind === 'GRPCDeadlineExceededError' ||
    kind === 'GRPCCancelledError' ||
    kind === 'GRPCInternalError'
  )
    return new StoreUnavailableError(`${where}: ${message}`, { cause: error, ambiguous: true });
  return new StoreError(`${where}: ${message}`, { cause: error, ambiguous: true });
}
