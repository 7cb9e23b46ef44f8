-- Per user: the ${top_n} products most co-occurring with what they viewed, carted or ordered in
-- the last ${recent_days} days, leaving out what they ordered in that time. Reads the day's
-- product_recommendations, so it is scheduled after them.
WITH bought AS (
  SELECT DISTINCT o.user_id, item.product_id
  FROM `${events}.orders_dedup` AS o, UNNEST(o.items) AS item
  WHERE o.occurred_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL ${recent_days} DAY))
    AND o.occurred_at < TIMESTAMP(@run_date)
),
recent AS (
  SELECT DISTINCT user_id, product_id
  FROM `${events}.product_interactions_dedup`
  WHERE occurred_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL ${recent_days} DAY))
    AND occurred_at < TIMESTAMP(@run_date)
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
