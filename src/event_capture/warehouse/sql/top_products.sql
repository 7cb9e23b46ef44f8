-- Products over the last 28 days by views, cart additions and orders, with a rank for each
-- (1 = most; ties share a rank). Dashboards sort and cut by the rank they need.
WITH interactions AS (
  SELECT
    product_id,
    COUNTIF(event_type = 'product_view') AS views,
    COUNTIF(event_type = 'product_click') AS clicks,
    COUNTIF(event_type = 'add_to_cart') AS carts
  FROM `${events}.product_interactions_dedup`
  WHERE occurred_at >= TIMESTAMP(DATE_SUB(CURRENT_DATE(), INTERVAL 27 DAY))
  GROUP BY product_id
),
ordered AS (
  SELECT item.product_id, COUNT(DISTINCT o.order_id) AS orders, SUM(item.quantity) AS units
  FROM `${events}.orders_dedup` AS o, UNNEST(o.items) AS item
  WHERE o.occurred_at >= TIMESTAMP(DATE_SUB(CURRENT_DATE(), INTERVAL 27 DAY))
  GROUP BY item.product_id
),
totals AS (
  SELECT
    product_id,
    COALESCE(i.views, 0) AS views,
    COALESCE(i.clicks, 0) AS clicks,
    COALESCE(i.carts, 0) AS carts,
    COALESCE(o.orders, 0) AS orders,
    COALESCE(o.units, 0) AS units
  FROM interactions AS i
  FULL OUTER JOIN ordered AS o USING (product_id)
)
SELECT
  *,
  RANK() OVER (ORDER BY views DESC) AS view_rank,
  RANK() OVER (ORDER BY carts DESC) AS cart_rank,
  RANK() OVER (ORDER BY orders DESC) AS order_rank
FROM totals
