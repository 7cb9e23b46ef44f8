-- One row per event_id: the copy received last. insertId de-duplication is best effort (about a
-- minute), so a retry after that window stores a second copy; everything downstream reads these.
-- As a view it covers the retention window; a query about one day inlines it for the few
-- partitions it needs (the recent_<table> placeholders), so it does not scan 90 days.
SELECT * EXCEPT (copy_rank)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at DESC) AS copy_rank
  FROM `${events}.${table}`
  WHERE received_at >= ${since}
)
WHERE copy_rank = 1
