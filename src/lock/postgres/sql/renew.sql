-- Extends the lease only while $2 holds it and it has not expired; never
-- re-creates an expired or released lease.
-- $1 name, $2 token, $3 ttl ms.
-- `renewed` says whether it did; otherwise `held` tells `stolen` (someone
-- else holds it now) from `expired`.
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t),
renewal AS (
  UPDATE tenure_leases AS l
  SET expires_at = now.t + $3::integer * interval '1 millisecond'
  FROM now
  WHERE l.name = $1 AND l.token = $2 AND l.expires_at > now.t
  RETURNING 1
)
SELECT
  EXISTS (SELECT 1 FROM renewal) AS renewed,
  EXISTS (
    SELECT 1 FROM tenure_leases AS l, now
    WHERE l.name = $1 AND l.token IS NOT NULL AND l.token <> $2 AND l.expires_at > now.t
  ) AS held
