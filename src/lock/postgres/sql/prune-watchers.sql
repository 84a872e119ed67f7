-- Forgets the registrations of backends that are gone (run on reconnect).
DELETE FROM tenure_leases_watchers AS w
WHERE NOT EXISTS (
    SELECT 1 FROM pg_stat_get_activity(w.pid) AS a
    -- (backend_start is hidden for other roles without pg_read_all_stats: then the pid alone)
    WHERE a.backend_start IS NULL OR w.started IS NULL OR a.backend_start = w.started
  )
