/**
 * Maps whatever node-postgres rejected with to a typed tenure error, by
 * SQLSTATE for server errors (docs/safety.md, "Error classification"):
 *
 * | SQLSTATE / failure                          | error                    | ambiguous | retryable |
 * |---------------------------------------------|--------------------------|-----------|-----------|
 * | 25006 read-only transaction (hot standby)   | ReadOnlyReplicaError     | no        | no        |
 * | 42501, 28000, 28P01 (privileges, auth)      | PermissionError          | no        | no        |
 * | 42P01, 3F000 (table or schema missing)      | SchemaMissingError       | no        | no        |
 * | 42703, 42883, 42P02 (schema differs)         | ConfigurationError       | no        | no        |
 * | 42P05, 26000 (prepared statement clash)     | ConfigurationError       | no        | no        |
 * | 40001, 40P01 (serialization, deadlock)      | StoreUnavailableError    | no        | yes       |
 * | 55P03, 57014 (lock/statement timeout)       | StoreUnavailableError    | no        | yes       |
 * | 53xxx (too many connections, no memory/disk)| StoreUnavailableError    | no        | yes       |
 * | 57P03 (starting up), refused connection     | StoreUnavailableError    | no        | yes       |
 * | 57P01/57P02 (shutdown), 08xxx, lost socket  | StoreUnavailableError    | yes       | yes       |
 * | anything else                               | StoreError               | yes       | yes       |
 *
 * An error that arrived as the statement's reply means the statement was
 * rolled back, so it is definite unless the connection broke around it (a
 * shutdown or a lost socket may hide a commit whose reply never came).
 */
import {
  ConfigurationError,
  PermissionError,
  ReadOnlyReplicaError,
  SchemaMissingError,
  StoreError,
  StoreUnavailableError,
  TenureError,
} from '../../errors.js';

const NOT_APPLIED_TRANSIENT = new Set(['40001', '40P01', '55P03', '57014', '57P03']);
const SCHEMA = new Set(['42P01', '42703', '42883', '3F000', '42P02']);
/** The table or its schema is missing (as opposed to present but different). */
const MISSING = new Set(['42P01', '3F000']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'ENOTCONN']);

/** Whether the error is a broken connection the client must not be reused after. */
export function isConnectionError(error: unknown): boolean {
  const code = sqlState(error);
  if (code !== undefined) return code.startsWith('08') || code === '57P01' || code === '57P02';
  const message = error instanceof Error ? error.message : '';
  return (
    message.startsWith('Connection terminated') ||
    message.includes('not queryable') ||
    SOCKET_CODES.has(errno(error) ?? '')
  );
}

export function classifyPostgresError(
  error: unknown,
  operation: string,
  name: string,
  createCall: string,
): TenureError {
  if (error instanceof TenureError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = sqlState(error);
  const where = `PostgreSQL refused \`${operation}\` on ${JSON.stringify(name)}`;
  if (code === '25006') {
    return new ReadOnlyReplicaError(
      `${where}: the server is a read-only standby (point the pool at the primary)`,
      { cause: error },
    );
  }
  if (code === '42501' || code === '28000' || code === '28P01') {
    return new PermissionError(
      `${where}: ${message} (the role needs SELECT, INSERT, UPDATE, DELETE on the lease table and its _watchers table)`,
      { cause: error },
    );
  }
  if (code === '42P05' || code === '26000') {
    return new ConfigurationError(
      `${where}: ${message}. A connection pooler in transaction mode (PgBouncer before 1.21) cannot route named prepared statements: pass \`preparedStatements: false\``,
      { cause: error },
    );
  }
  if (code !== undefined && SCHEMA.has(code)) {
    return new (MISSING.has(code) ? SchemaMissingError : ConfigurationError)(
      `${where}: ${message}. Create the table with \`await ${createCall}\` (or apply tenure's postgres schema.sql)`,
      { cause: error },
    );
  }
  if (code !== undefined && (NOT_APPLIED_TRANSIENT.has(code) || code.startsWith('53'))) {
    return new StoreUnavailableError(`${where}: ${message} (SQLSTATE ${code}); not applied`, {
      cause: error,
      ambiguous: false,
    });
  }
  const socket = errno(error);
  if (socket !== undefined && CONNECT_CODES.has(socket)) {
    return new StoreUnavailableError(`PostgreSQL unreachable during \`${operation}\`: ${message}`, {
      cause: error,
      ambiguous: false,
    });
  }
  if (isConnectionError(error)) {
    return new StoreUnavailableError(
      `PostgreSQL connection failed during \`${operation}\` on ${JSON.stringify(name)}: ${message}`,
      { cause: error, ambiguous: true },
    );
  }
  return new StoreError(
    `PostgreSQL failed \`${operation}\` on ${JSON.stringify(name)}: ${message}${code ? ` (SQLSTATE ${code})` : ''}`,
    { cause: error, ambiguous: true },
  );
}

/** The SQLSTATE of a server error (node-postgres' DatabaseError has a `severity`). */
function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; severity?: unknown } | null;
  return typeof e?.code === 'string' && typeof e.severity === 'string' ? e.code : undefined;
}

/** The errno of a socket error (`ECONNRESET`...). */
function errno(error: unknown): string | undefined {
  if (sqlState(error) !== undefined) return undefined;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
