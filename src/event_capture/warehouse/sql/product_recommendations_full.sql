-- Item-to-item co-occurrence: for each product, the ${top_n} products most often found in the
-- same basket, where a basket is a session's product interactions or an order's line items.
WITH baskets AS (
  SELECT DISTINCT CONCAT('session:', session_id) AS basket, product_id
  FROM `${events}.product_interactions_dedup`
  WHERE occurred_at < TIMESTAMP(@run_date)
  UNION DISTINCT
  SELECT CONCAT('order:', o.order_id), item.product_id
  FROM `${events}.orders_dedup` AS o, UNNEST(o.items) AS item
  WHERE o.occurred_at < TIMESTAMP(@run_date)
),
pairs AS (
  SELECT a.product_id, b.product_id AS recommended_product_id, COUNT(*) AS co_occurrences
  FROM baskets AS a
  JOIN baskets AS b ON a.basket = b.basket AND a.product_id != b.product_id
  GROUP BY a.product_id, b.product_id
),
ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY product_id ORDER BY co_occurrences DESC, recommended_product_id
    ) AS rank
  FROM pairs
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS snapshot_date,
  product_id,
  recommended_product_id,
  co_occurrences,
  rank
FROM ranked
WHERE rank <= ${top_n}
