-- Registers this connection (its backend pid and start time) as a watcher
-- of channel $1, and forgets the channel's rows of backends that are gone.
WITH stale AS (
  DELETE FROM tenure_leases_watchers AS w
  WHERE w.channel = $1 AND w.pid <> pg_backend_pid() AND NOT EXISTS (
    SELECT 1 FROM pg_stat_get_activity(w.pid) AS a
    -- (backend_start is hidden for other roles without pg_read_all_stats: then the pid alone)
    WHERE a.backend_start IS NULL OR w.started IS NULL OR a.backend_start = w.started
  )
)
INSERT INTO tenure_leases_watchers (channel, pid, started)
SELECT $1, pg_backend_pid(), a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) AS a
ON CONFLICT (channel, pid) DO UPDATE SET started = excluded.started
