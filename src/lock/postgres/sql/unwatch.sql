-- Removes this connection's registration for channel $1.
DELETE FROM tenure_leases_watchers WHERE channel = $1 AND pid = pg_backend_pid()
