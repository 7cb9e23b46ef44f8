-- One row per event_id: the copy received last. insertId de-duplication is best effort (about a
-- minute), so a retry after that window stores a second copy; everything downstream reads these.
SELECT * EXCEPT (copy_rank)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at DESC) AS copy_rank
  FROM `${events}.${table}`
  -- The partition filter the raw tables require: the whole retention window.
  WHERE received_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${retention_days} DAY)
)
WHERE copy_rank = 1
