-- Every name starting with $1 that is held now (one snapshot).
SELECT l.name, l.identity, l.term::text AS term, l.data,
       greatest(0, ceil(extract(epoch FROM l.expires_at - now.t) * 1000))::integer AS remaining_ms
FROM tenure_leases AS l, (SELECT clock_timestamp() AS t) AS now
WHERE starts_with(l.name, $1) AND l.token IS NOT NULL AND l.expires_at > now.t
