-- When each user is due to buy a product again, for every product they ordered on at least two
-- days. A due_score of 1 means the usual interval has passed since the last order. The order
-- days are user_daily's order lines: a count of distinct days, not a sum, so the daily rows
-- keep every ordered product; a linked device's orders are its user's (stitched.sql).
WITH partial_rows AS (
  SELECT * FROM ${user_daily}
  WHERE received_on >= DATE_SUB(@run_date, INTERVAL ${retention_days} DAY)
    AND occurred_on < @run_date
),
known AS (
${stitched}
),
order_days AS (
  SELECT DISTINCT d.user_id, line.product_id, d.occurred_on AS ordered_on
  FROM known AS d, UNNEST(d.order_lines) AS line
),
history AS (
  SELECT
    user_id,
    product_id,
    COUNT(*) AS orders,
    MIN(ordered_on) AS first_ordered_on,
    MAX(ordered_on) AS last_ordered_on,
    DATE_DIFF(MAX(ordered_on), MIN(ordered_on), DAY) / (COUNT(*) - 1) AS mean_interval_days
  FROM order_days
  GROUP BY user_id, product_id
  HAVING COUNT(*) >= 2
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS snapshot_date,
  user_id,
  product_id,
  orders,
  first_ordered_on,
  last_ordered_on,
  mean_interval_days,
  DATE_DIFF(DATE_SUB(@run_date, INTERVAL 1 DAY), last_ordered_on, DAY) AS days_since_last,
  DATE_DIFF(DATE_SUB(@run_date, INTERVAL 1 DAY), last_ordered_on, DAY) / mean_interval_days
    AS due_score,
  DATE_ADD(last_ordered_on, INTERVAL CAST(ROUND(mean_interval_days) AS INT64) DAY)
    AS next_expected_on
FROM history
