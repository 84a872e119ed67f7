-- Registers this connection (its backend pid) as a watcher of channel $1.
INSERT INTO tenure_leases_watchers (channel, pid) VALUES ($1, pg_backend_pid())
ON CONFLICT DO NOTHING
