-- Compare-and-clear: vacates the lease only while $2 holds it, keeps the row
-- (and its term), and notifies the name's channel in the same statement,
-- always: the watcher count comes from this statement's snapshot, and a
-- waiter that registered after it but before the commit must still be woken.
-- When a live LISTEN connection watched the channel (as of the snapshot),
-- the name stays reserved for earlier waiters for $4 ms (fair hand-off; 0
-- disables).
-- $1 name, $2 token, $3 keep data (boolean), $4 hand-off ms, $5 channel.
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t),
watchers AS MATERIALIZED (
  SELECT count(*)::integer AS n
  FROM tenure_leases_watchers AS w
  WHERE w.channel = $5 AND EXISTS (
      SELECT 1 FROM pg_stat_get_activity(w.pid) AS a
      -- (backend_start is hidden for other roles without pg_read_all_stats: then the pid alone)
      WHERE a.backend_start IS NULL OR w.started IS NULL OR a.backend_start = w.started
    )
),
released AS (
  UPDATE tenure_leases AS l
  SET token = NULL,
      expires_at = NULL,
      data = CASE WHEN $3::boolean THEN l.data ELSE '' END,
      reserved_until = CASE WHEN watchers.n > 0 AND $4::integer > 0
                            THEN now.t + $4::integer * interval '1 millisecond' END
  FROM now, watchers
  WHERE l.name = $1 AND l.token = $2 AND l.expires_at > now.t
  RETURNING watchers.n
)
SELECT r.n AS subscribers, (SELECT 1 FROM pg_notify($5, 'released:' || r.n)) AS notified
FROM released r
