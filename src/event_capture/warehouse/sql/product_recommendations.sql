-- Item-to-item co-occurrence: for each product, the ${top_n} products most often found in the
-- same basket, where a basket is a session's product interactions or an order's line items.
-- Baskets come from user_daily by their ids, not as daily pair counts: a session spanning
-- midnight, or joined by a late event, is in several daily rows and must still count once per
-- pair. Only trusted identities' baskets count (stitched.sql): a device linked to no one could be
-- anyone's, and must not steer what everyone is recommended.
WITH partial_rows AS (
  SELECT * FROM ${user_daily}
  WHERE received_on >= DATE_SUB(@run_date, INTERVAL ${retention_days} DAY)
    AND occurred_on < @run_date
),
days AS (
${stitched}
),
baskets AS (
  SELECT DISTINCT CONCAT('session:', item.session_id) AS basket, item.product_id
  FROM days, UNNEST(days.items) AS item
  UNION DISTINCT
  SELECT CONCAT('order:', line.order_id), line.product_id
  FROM days, UNNEST(days.order_lines) AS line
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
