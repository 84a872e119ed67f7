/**
 * `tenure/postgres`: the PostgreSQL lease store. Needs `pg` (node-postgres),
 * an optional peer dependency: tenure uses the caller's pool and never
 * imports `pg` itself.
 */
export {
  PostgresLeaseStore,
  type LeaseRecord,
  type PostgresLeaseStoreOptions,
} from './lock/postgres/postgres-store.js';
export type {
  PgConnectionConfig,
  PgPoolLike,
  PgPoolClientLike,
  PgListenClient,
} from './lock/postgres/pg-types.js';
