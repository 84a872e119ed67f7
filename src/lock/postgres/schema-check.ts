/**
 * How the store checks that its tables exist with this version's schema:
 * one read of the catalog (`SCHEMA_STATE`), and the table's comment, which
 * names the schema version (`SCHEMA_COMMENT`). A table of another version
 * is a `ConfigurationError`, a missing one a `SchemaMissingError`.
 */
import { ConfigurationError, SchemaMissingError } from '../../errors.js';
import { describe } from '../../internal/validate.js';
import { SCHEMA_COMMENT, type Statements } from './statements.js';

/** $1 schema, $2 table, $3 watchers table (quoted, qualified): see {@link schemaStateValues}. */
export const SCHEMA_STATE = `SELECT to_regnamespace($1) IS NOT NULL AS schema,
  to_regclass($2) IS NOT NULL AS table, to_regclass($3) IS NOT NULL AS watchers,
  obj_description(to_regclass($2), 'pg_class') AS comment`;

/** The values of {@link SCHEMA_STATE} for a store's tables. */
export function schemaStateValues(sql: Statements): string[] {
  return [`"${sql.schemaName}"`, sql.table, sql.watchers];
}

/** What a {@link SCHEMA_STATE} row says: whether each table exists, and the lease table's comment. */
export interface SchemaState {
  readonly table: boolean;
  readonly watchers: boolean;
  readonly comment: unknown;
}

export function schemaStateOf(row: Record<string, unknown>): SchemaState {
  return {
    table: row['table'] === true,
    watchers: row['watchers'] === true,
    comment: row['comment'],
  };
}

/** Throws `ConfigurationError` unless `comment` (the lease table's) names this version's schema. */
export function checkComment(sql: Statements, comment: unknown): void {
  if (comment === SCHEMA_COMMENT) return;
  throw new ConfigurationError(
    `The lease table ${sql.table} is not tenure's schema version 1 (its comment is ${describe(comment)}, expected ${JSON.stringify(SCHEMA_COMMENT)}): apply the schema of this tenure version, or use another table`,
  );
}

/** The error for a lease table (or its watchers table) that does not exist. */
export function schemaMissing(sql: Statements): SchemaMissingError {
  return new SchemaMissingError(
    `The lease table ${sql.table} (or its ${sql.watchers}) does not exist: call \`await store.createTable()\` once (or apply tenure's postgres schema.sql)`,
  );
}
