-- Per user: the ${top_n} products most co-occurring with what they viewed, carted or ordered in
-- the last ${recent_days} days, leaving out what they ordered in that time. Reads the day's
-- product_recommendations, so it is scheduled after them, and user_daily's rows of the events
-- that occurred in those days, a linked device's as its user's (stitched.sql).
WITH partial_rows AS (
  SELECT * FROM ${user_daily}
  WHERE received_on >= DATE_SUB(@run_date, INTERVAL ${recent_received_days} DAY)
    AND occurred_on >= DATE_SUB(@run_date, INTERVAL ${recent_days} DAY)
    AND occurred_on < @run_date
),
recent_days AS (
${stitched}
),
bought AS (
  SELECT DISTINCT d.user_id, line.product_id
  FROM recent_days AS d, UNNEST(d.order_lines) AS line
),
recent AS (
  SELECT DISTINCT d.user_id, item.product_id
  FROM recent_days AS d, UNNEST(d.items) AS item
  UNION DISTINCT
  SELECT user_id, product_id FROM bought
),
scored AS (
  SELECT r.user_id, p.recommended_product_id AS product_id, SUM(p.co_occurrences) AS score
  FROM recent AS r
  JOIN (
    SELECT * FROM `${events}.product_recommendations`
    WHERE snapshot_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  ) AS p ON p.product_id = r.product_id
  LEFT JOIN bought AS b
    ON b.user_id = r.user_id AND b.product_id = p.recommended_product_id
  WHERE b.product_id IS NULL
  GROUP BY r.user_id, p.recommended_product_id
),
ranked AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY score DESC, product_id) AS rank
  FROM scored
)
SELECT DATE_SUB(@run_date, INTERVAL 1 DAY) AS snapshot_date, user_id, product_id, score, rank
FROM ranked
WHERE rank <= ${top_n}
