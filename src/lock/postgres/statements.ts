/**
 * The SQL of `sql/*.sql` for one configured table: `tenure_leases` (and
 * `tenure_leases_watchers`) replaced by the quoted, schema-qualified names,
 * whole-line comments dropped from the statements sent per operation.
 */
import { InvalidOptionError } from '../../errors.js';
import { describe } from '../../internal/validate.js';
import {
  acquireSql,
  inspectSql,
  listSql,
  pruneWatchersSql,
  readSql,
  releaseSql,
  renewSql,
  schemaSql,
  unwatchSql,
  updateSql,
  watchSql,
} from './sql.generated.js';

/** The version `schema.sql` writes into the table's comment; the store refuses any other. */
export const SCHEMA_VERSION = 1;
export const SCHEMA_COMMENT = `tenure lease table, schema version ${SCHEMA_VERSION}`;

export interface Statements {
  /** `"schema"."table"`, for messages and the notification channel. */
  readonly table: string;
  /** `"schema"."table_watchers"`. */
  readonly watchers: string;
  readonly schemaName: string;
  readonly schema: string;
  readonly acquire: string;
  readonly renew: string;
  readonly update: string;
  readonly release: string;
  readonly read: string;
  readonly inspect: string;
  readonly list: string;
  readonly watch: string;
  readonly unwatch: string;
  readonly prune: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A PostgreSQL identifier tenure quotes as is: letters, digits, `_`; at most `max` bytes. */
export function identifier(option: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.length > max) {
    throw new InvalidOptionError(
      option,
      `Expected \`${option}\` to be an identifier of letters, digits and \`_\` (not starting with a digit), at most ${max} characters, got ${describe(value)}`,
    );
  }
  return value;
}

export function statements(schemaName: string, tableName: string): Statements {
  const table = `"${schemaName}"."${tableName}"`;
  const watchers = `"${schemaName}"."${tableName}_watchers"`;
  const qualify = (sql: string, keepComments = false): string => {
    const text = sql
      .replace(/\btenure_leases_watchers\b/g, watchers)
      .replace(/\btenure_leases\b/g, table);
    return keepComments
      ? text
      : text
          .split('\n')
          .filter((line) => !line.trimStart().startsWith('--') && line.trim() !== '')
          .join('\n');
  };
  return {
    table,
    watchers,
    schemaName,
    schema: qualify(schemaSql, true),
    acquire: qualify(acquireSql),
    renew: qualify(renewSql),
    update: qualify(updateSql),
    release: qualify(releaseSql),
    read: qualify(readSql),
    inspect: qualify(inspectSql),
    list: qualify(listSql),
    watch: qualify(watchSql),
    unwatch: qualify(unwatchSql),
    prune: qualify(pruneWatchersSql),
  };
}
