-- One row per user active in the retention window, as of the end of the day before @run_date.
WITH activity AS (
  SELECT user_id, session_id, occurred_at, event_type,
    CAST(NULL AS STRING) AS product_id, CAST(NULL AS STRING) AS category, intent
  FROM `${events}.searches_dedup`
  UNION ALL
  SELECT user_id, session_id, occurred_at, event_type, product_id, category, NULL
  FROM `${events}.product_interactions_dedup`
  UNION ALL
  SELECT user_id, session_id, occurred_at, event_type, NULL, NULL, NULL
  FROM `${events}.orders_dedup`
  UNION ALL
  SELECT user_id, session_id, occurred_at, event_type, NULL, NULL, NULL
  FROM `${events}.sessions_dedup`
  UNION ALL
  SELECT user_id, session_id, occurred_at, event_type, NULL, NULL, detected_intent
  FROM `${events}.voice_interactions_dedup`
),
known AS (
  SELECT * FROM activity WHERE occurred_at < TIMESTAMP(@run_date)
),
counts AS (
  SELECT
    user_id,
    COUNTIF(event_type = 'search') AS searches,
    COUNTIF(event_type = 'product_view') AS product_views,
    COUNTIF(event_type = 'product_click') AS product_clicks,
    COUNTIF(event_type = 'add_to_cart') AS add_to_carts,
    COUNTIF(event_type = 'voice_interaction') AS voice_interactions,
    COUNT(DISTINCT session_id) AS sessions,
    MIN(occurred_at) AS first_seen,
    MAX(occurred_at) AS last_seen
  FROM known
  GROUP BY user_id
),
categories AS (
  SELECT user_id, category, COUNT(*) AS n
  FROM known WHERE category IS NOT NULL GROUP BY user_id, category
),
products AS (
  SELECT user_id, product_id, COUNT(*) AS n
  FROM known WHERE product_id IS NOT NULL GROUP BY user_id, product_id
),
intents AS (
  SELECT user_id, intent, COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY user_id) AS share
  FROM known WHERE intent IS NOT NULL GROUP BY user_id, intent
),
orders AS (
  SELECT user_id, currency, total
  FROM `${events}.orders_dedup`
  WHERE occurred_at < TIMESTAMP(@run_date)
),
currencies AS (
  SELECT user_id, currency, COUNT(*) AS n, ROUND(AVG(total), 2) AS average_value
  FROM orders GROUP BY user_id, currency
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
  c.sessions,
  c.first_seen,
  c.last_seen,
  DATE_DIFF(DATE_SUB(@run_date, INTERVAL 1 DAY), DATE(c.last_seen), DAY) AS days_since_last_seen,
  fc.category AS favourite_category,
  fp.product AS favourite_product,
  i.intent_mix,
  o.order_currency,
  o.average_order_value
FROM counts AS c
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
