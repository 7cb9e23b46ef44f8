-- One row per user active in the retention window, as of the end of the day before @run_date,
-- summed from user_daily. Counts, intents and order totals are sums of the daily rows; first
-- and last seen their MIN and MAX; sessions are counted distinct over the daily rows' sessions,
-- since a session that spans midnight is in two of them; favourites rank the summed
-- per-product counts. A user's rows include those of their linked devices (stitched.sql), so
-- what they did before logging in counts, in the sessions it had.
WITH partial_rows AS (
  SELECT * FROM ${user_daily}
  WHERE received_on >= DATE_SUB(@run_date, INTERVAL ${retention_days} DAY)
    AND occurred_on < @run_date
),
known AS (
${stitched}
),
counts AS (
  SELECT
    user_id,
    SUM(searches) AS searches,
    SUM(product_views) AS product_views,
    SUM(product_clicks) AS product_clicks,
    SUM(add_to_carts) AS add_to_carts,
    SUM(voice_interactions) AS voice_interactions,
    MIN(first_seen) AS first_seen,
    MAX(last_seen) AS last_seen
  FROM known
  GROUP BY user_id
),
session_counts AS (
  SELECT user_id, COUNT(DISTINCT session) AS sessions
  FROM known, UNNEST(known.sessions) AS session
  GROUP BY user_id
),
categories AS (
  SELECT user_id, item.category, SUM(item.interactions) AS n
  FROM known, UNNEST(known.items) AS item
  WHERE item.category IS NOT NULL
  GROUP BY user_id, item.category
),
products AS (
  SELECT user_id, item.product_id, SUM(item.interactions) AS n
  FROM known, UNNEST(known.items) AS item
  GROUP BY user_id, item.product_id
),
intents AS (
  SELECT
    user_id,
    i.intent,
    SUM(i.events) / SUM(SUM(i.events)) OVER (PARTITION BY user_id) AS share
  FROM known, UNNEST(known.intents) AS i
  GROUP BY user_id, i.intent
),
currencies AS (
  SELECT user_id, c.currency, SUM(c.orders) AS n, ROUND(SUM(c.total) / SUM(c.orders), 2)
    AS average_value
  FROM known, UNNEST(known.currencies) AS c
  GROUP BY user_id, c.currency
),
favourite_categories AS (
  SELECT user_id, ARRAY_AGG(category ORDER BY n DESC, category LIMIT 1)[OFFSET(0)] AS category
  FROM categories GROUP BY user_id
),
favourite_products AS (
  SELECT user_id, ARRAY_AGG(product_id ORDER BY n DESC, product_id LIMIT 1)[OFFSET(0)] AS product
  FROM products GROUP BY user_id
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS snapshot_date,
  c.user_id,
  c.searches,
  c.product_views,
  c.product_clicks,
  c.add_to_carts,
  COALESCE(o.orders, 0) AS orders,
  c.voice_interactions,
  s.sessions,
  c.first_seen,
  c.last_seen,
  DATE_DIFF(DATE_SUB(@run_date, INTERVAL 1 DAY), DATE(c.last_seen), DAY) AS days_since_last_seen,
  fc.category AS favourite_category,
  fp.product AS favourite_product,
  i.intent_mix,
  o.order_currency,
  o.average_order_value
FROM counts AS c
JOIN session_counts AS s USING (user_id)
LEFT JOIN favourite_categories AS fc USING (user_id)
LEFT JOIN favourite_products AS fp USING (user_id)
LEFT JOIN (
  SELECT user_id, ARRAY_AGG(STRUCT(intent, share) ORDER BY share DESC, intent) AS intent_mix
  FROM intents GROUP BY user_id
) AS i USING (user_id)
LEFT JOIN (
  -- Amounts in different currencies do not average: the user's most used currency is kept.
  SELECT
    user_id,
    SUM(n) AS orders,
    ARRAY_AGG(currency ORDER BY n DESC, currency LIMIT 1)[OFFSET(0)] AS order_currency,
    ARRAY_AGG(average_value ORDER BY n DESC, currency LIMIT 1)[OFFSET(0)] AS average_order_value
  FROM currencies GROUP BY user_id
) AS o USING (user_id)
