-- tenure: PostgreSQL lease table, schema version 1.
--
-- PostgresLeaseStore#createTable() runs this (idempotently, serialized by a
-- transaction-scoped advisory lock). Teams that run their own migrations may
-- apply it instead; for another schema or table name, replace
-- `tenure_leases` and pass `{ schema, table }` to the store. The store checks
-- the version in the table's comment before its first operation.
--
-- One row per lease name, kept across releases so the term only grows.
CREATE TABLE IF NOT EXISTS tenure_leases (
  name text PRIMARY KEY,
  -- The holder's secret ownership token; NULL while vacant. Whoever can
  -- read this column can renew or release the lease: grant SELECT with care.
  token text,
  -- Fencing term of the latest grant: greatest(previous + 1, server µs).
  term bigint NOT NULL,
  identity text NOT NULL DEFAULT '',
  data text NOT NULL DEFAULT '',
  -- Server time (clock_timestamp()) the lease expires; NULL once released.
  expires_at timestamptz,
  -- Fair hand-off: after a release that notified a watcher, only callers
  -- that were already waiting may take the name until then.
  reserved_until timestamptz
) WITH (fillfactor = 50);

-- The LISTEN connections watching each notification channel, by backend pid
-- and that backend's start time (so a row left by a backend that is gone is
-- ignored even when its pid was reused; such rows are cleaned up).
CREATE TABLE IF NOT EXISTS tenure_leases_watchers (
  channel text NOT NULL,
  pid integer NOT NULL,
  started timestamptz,
  PRIMARY KEY (channel, pid)
);

COMMENT ON TABLE tenure_leases IS 'tenure lease table, schema version 1';
