-- The current holder, without acquiring or locking anything. $1 name.
SELECT l.identity, l.term::text AS term, l.data,
       greatest(0, ceil(extract(epoch FROM l.expires_at - now.t) * 1000))::integer AS remaining_ms
FROM tenure_leases AS l, (SELECT clock_timestamp() AS t) AS now
WHERE l.name = $1 AND l.token IS NOT NULL AND l.expires_at > now.t
