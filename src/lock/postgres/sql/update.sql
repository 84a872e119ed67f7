-- Replaces the holder's data only while $2 holds the lease and it has not
-- expired; the term and the expiry stay as they are. Notifies the name's
-- channel ('updated') in the same statement.
-- $1 name, $2 token, $3 data, $4 channel.
-- `updated` says whether it did; otherwise `held` tells `stolen` (someone
-- else holds it now) from `expired`.
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t),
updated AS (
  UPDATE tenure_leases AS l
  SET data = $3
  FROM now
  WHERE l.name = $1 AND l.token = $2 AND l.expires_at > now.t
  RETURNING 1
)
SELECT
  EXISTS (SELECT 1 FROM updated) AS updated,
  CASE WHEN EXISTS (SELECT 1 FROM updated) THEN (SELECT 1 FROM pg_notify($4, 'updated')) END AS notified,
  EXISTS (
    SELECT 1 FROM tenure_leases AS l, now
    WHERE l.name = $1 AND l.token IS NOT NULL AND l.token <> $2 AND l.expires_at > now.t
  ) AS held
