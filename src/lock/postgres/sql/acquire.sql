-- Grants a vacant name in one statement; otherwise reports its holder.
-- $1 name, $2 token, $3 identity, $4 data, $5 ttl ms, $6 waiting (may take a
-- hand-off reservation), $7 notification channel.
--
-- `seen` is the row as of the statement's snapshot. If it shows the name
-- held (or reserved for earlier waiters), that is the answer, with no write:
-- the refusal takes effect at the snapshot, when it was true. Otherwise the
-- upsert decides on the latest committed row, locked by ON CONFLICT, at one
-- instant `now.t`, the same decision `g` for every column; a caller that
-- lost the race rewrites the row unchanged (a HOT update), so RETURNING
-- reports the winner. A grant always notifies the name's channel: a
-- watcher that registered after this statement's snapshot but before its
-- commit still hears it (NOTIFY is delivered at commit).
WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t),
seen AS MATERIALIZED (
  SELECT l.term, l.identity, l.data, l.expires_at, l.reserved_until,
         coalesce(l.token IS NOT NULL AND l.expires_at > now.t, false) AS held,
         coalesce(l.reserved_until > now.t AND NOT $6::boolean, false) AS reserved
  FROM tenure_leases AS l, now
  WHERE l.name = $1
),
attempt AS (
  INSERT INTO tenure_leases AS l (name, token, term, identity, data, expires_at)
  SELECT $1, $2, floor(extract(epoch FROM now.t) * 1000000)::bigint, $3, $4,
         now.t + $5::integer * interval '1 millisecond'
  FROM now
  WHERE NOT EXISTS (SELECT 1 FROM seen WHERE seen.held OR seen.reserved)
  ON CONFLICT (name) DO UPDATE SET
    (token, term, identity, data, expires_at, reserved_until) = (
      SELECT
        CASE WHEN g THEN excluded.token ELSE l.token END,
        CASE WHEN g THEN greatest(l.term + 1, excluded.term) ELSE l.term END,
        CASE WHEN g THEN excluded.identity ELSE l.identity END,
        CASE WHEN g THEN excluded.data ELSE l.data END,
        CASE WHEN g THEN excluded.expires_at ELSE l.expires_at END,
        CASE WHEN g THEN NULL ELSE l.reserved_until END
      FROM (
        SELECT (l.token IS NULL OR l.expires_at IS NULL OR l.expires_at <= now.t)
           AND (l.reserved_until IS NULL OR l.reserved_until <= now.t OR $6::boolean) AS g
        FROM now
      ) AS decision
    )
  RETURNING l.token = $2 AS acquired, l.term, l.identity, l.data, l.expires_at, l.reserved_until
)
SELECT
  a.acquired,
  a.term::text AS term,
  a.identity,
  a.data,
  greatest(0, ceil(extract(epoch FROM a.expires_at - now.t) * 1000))::integer AS remaining_ms,
  greatest(0, ceil(extract(epoch FROM a.reserved_until - now.t) * 1000))::integer AS reserved_ms,
  CASE WHEN a.acquired THEN (SELECT 1 FROM pg_notify($7, 'acquired')) END AS notified
FROM attempt AS a, now
UNION ALL
SELECT
  false,
  s.term::text,
  s.identity,
  s.data,
  greatest(0, ceil(extract(epoch FROM s.expires_at - now.t) * 1000))::integer,
  greatest(0, ceil(extract(epoch FROM s.reserved_until - now.t) * 1000))::integer,
  NULL
FROM seen AS s, now
WHERE s.held OR s.reserved
