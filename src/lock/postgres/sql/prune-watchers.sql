-- Forgets the registrations of backends that are gone (run on reconnect).
DELETE FROM tenure_leases_watchers AS w
WHERE NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(w.pid))
