import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  InvalidOptionError,
  SchemaMissingError,
  StoreError,
} from '../../src/errors.js';
import { isRetryable } from '../../src/lock/error-kinds.js';
import { classifyPostgresError } from '../../src/lock/postgres/classify-error.js';
import { PostgresLeaseStore } from '../../src/lock/postgres/postgres-store.js';

/** A server error as node-postgres builds it (DatabaseError: message, severity, SQLSTATE code). */
function serverError(code: string, message = 'server said no'): Error {
  return Object.assign(new Error(message), { severity: 'ERROR', code });
}

/** [error, class, ambiguous, retryable] */
const cases: [Error, string, boolean, boolean][] = [
  [
    serverError('25006', 'cannot execute INSERT in a read-only transaction'),
    'ReadOnlyReplicaError',
    false,
    false,
  ],
  [
    serverError('42501', 'permission denied for table tenure_leases'),
    'PermissionError',
    false,
    false,
  ],
  [serverError('28P01', 'password authentication failed'), 'PermissionError', false, false],
  [
    serverError('42P01', 'relation "tenure_leases" does not exist'),
    'SchemaMissingError',
    false,
    false,
  ],
  [
    serverError('42703', 'column "reserved_until" does not exist'),
    'ConfigurationError',
    false,
    false,
  ],
  [
    serverError('42P05', 'prepared statement "tenure_read_x" already exists'),
    'ConfigurationError',
    false,
    false,
  ],
  [
    serverError('26000', 'prepared statement "tenure_read_x" does not exist'),
    'ConfigurationError',
    false,
    false,
  ],
  [serverError('40001', 'could not serialize access'), 'StoreUnavailableError', false, true],
  [serverError('40P01', 'deadlock detected'), 'StoreUnavailableError', false, true],
  [
    serverError('57014', 'canceling statement due to statement timeout'),
    'StoreUnavailableError',
    false,
    true,
  ],
  [serverError('55P03', 'could not obtain lock'), 'StoreUnavailableError', false, true],
  [serverError('53300', 'sorry, too many clients already'), 'StoreUnavailableError', false, true],
  [
    serverError('53100', 'could not extend file: No space left on device'),
    'StoreUnavailableError',
    false,
    true,
  ],
  [
    serverError('57P03', 'the database system is starting up'),
    'StoreUnavailableError',
    false,
    true,
  ],
  [
    serverError('57P01', 'terminating connection due to administrator command'),
    'StoreUnavailableError',
    true,
    true,
  ],
  [serverError('08006', 'connection failure'), 'StoreUnavailableError', true, true],
  [new Error('Connection terminated unexpectedly'), 'StoreUnavailableError', true, true],
  [
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    'StoreUnavailableError',
    true,
    true,
  ],
  // EPIPE is five capitals like a SQLSTATE; without `severity` it is a socket error.
  [Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), 'StoreUnavailableError', true, true],
  [
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    'StoreUnavailableError',
    false,
    true,
  ],
  [serverError('XX000', 'internal error'), 'StoreError', true, true],
];

describe('classifyPostgresError', () => {
  it.each(cases)('%s → %s (ambiguous %s, retryable %s)', (error, name, ambiguous, retryable) => {
    const classified = classifyPostgresError(error, 'acquire', 'job', 'store.createTable()');
    expect(classified.name).toBe(name);
    // Configuration and permission errors are not store errors: never applied.
    expect(classified instanceof StoreError && classified.ambiguous).toBe(ambiguous);
    expect(isRetryable(classified)).toBe(retryable);
    expect(classified.cause).toBe(error);
  });

  it('points at createTable() for a missing table', () => {
    const e = classifyPostgresError(serverError('42P01'), 'renew', 'job', 'store.createTable()');
    expect(e.message).toContain('await store.createTable()');
    expect(e).toBeInstanceOf(SchemaMissingError);
    expect(e).toBeInstanceOf(ConfigurationError); // a subclass: existing catch blocks still match
    expect(e.code).toBe('TENURE_SCHEMA_MISSING');
  });
});

describe('PostgresLeaseStore options', () => {
  const pool = {
    connect: () => Promise.reject(new Error('unused')),
    options: {},
    Client: class {},
  };
  const make = (options: Record<string, unknown>) => () =>
    new PostgresLeaseStore({ pool, ...options } as never);

  it.each([
    [{ pool: undefined }, 'pool'],
    [{ pool: {} }, 'pool'],
    [{ table: 'drop table x' }, 'table'],
    [{ table: '1leases' }, 'table'],
    [{ table: 'x'.repeat(55) }, 'table'],
    [{ schema: 'a.b' }, 'schema'],
    [{ listen: 'postgres://x' }, 'listen'],
    [{ handoffMs: -1 }, 'handoffMs'],
    [{ queryTimeoutMs: 0 }, 'queryTimeoutMs'],
    [{ keepDataOnRelease: 'yes' }, 'keepDataOnRelease'],
    [{ tabel: 'x' }, 'tabel'],
  ])('rejects %j naming %s', (options, option) => {
    let error: unknown;
    try {
      make(options)();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ option });
  });

  it('needs the pool Client class unless listen is false', () => {
    const bare = { connect: pool.connect };
    expect(() => new PostgresLeaseStore({ pool: bare })).toThrow(/listen: false/);
    expect(() => new PostgresLeaseStore({ pool: bare, listen: false })).not.toThrow();
  });
});
