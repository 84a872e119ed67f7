/**
 * `diagnose()` of the PostgreSQL store: configuration that weakens its
 * guarantees, as human-readable warnings (none: nothing found). It reads the
 * server's settings and changes nothing.
 */

/** Whether the server is a standby, its commit settings, and how many standbys stream from it. */
const SETTINGS = `SELECT pg_is_in_recovery() AS standby,
              current_setting('synchronous_commit') AS commit,
              current_setting('synchronous_standby_names') AS standbys,
              (SELECT count(*) FROM pg_stat_replication)::integer AS replicas`;

/**
 * The warnings for a store with notifications on or off (`listening`);
 * `query` runs one statement through the store's pool and resolves with its
 * rows (its failure is diagnose()'s failure).
 */
export async function diagnosePostgres(
  listening: boolean,
  query: (text: string) => Promise<Record<string, unknown>[]>,
): Promise<string[]> {
  const warnings: string[] = [];
  if (!listening) {
    warnings.push(
      "PostgreSQL notifications are off (listen: false): waiters and followers wake at the holder's expiry, so a hand-over takes up to a lease period. Pass `listen` with a direct connection (not through PgBouncer) for millisecond hand-over.",
    );
  }
  const rows = await query(SETTINGS);
  const row = rows[0] ?? {};
  const standbys = typeof row['standbys'] === 'string' ? row['standbys'] : '';
  const commit = typeof row['commit'] === 'string' ? row['commit'] : '';
  if (row['standby'] === true) {
    warnings.push(
      'The pool is connected to a PostgreSQL standby (read-only): every acquisition will be refused.',
    );
  }
  const synchronous = standbys !== '' && ['on', 'remote_apply'].includes(commit);
  if (Number(row['replicas']) > 0 && !synchronous) {
    warnings.push(
      `PostgreSQL streams to ${String(row['replicas'])} standby(s) without synchronous commit (synchronous_commit=${commit}, synchronous_standby_names='${standbys}'): a fail-over to a standby that missed the latest renewals can let a second holder in while the first still trusts its lease (terms stay increasing). Set synchronous_standby_names and synchronous_commit=remote_apply (docs/safety.md).`,
    );
  }
  return warnings;
}
