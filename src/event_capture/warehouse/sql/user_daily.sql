-- What the feature tables need of each user's events, one row per user, day received and day
-- occurred, for the days received from ${rebuilt_since} to @run_date. Every sum the features
-- take is a sum of these rows; what is not a sum keeps its keys: distinct sessions (a session
-- spans midnight, and a late event reopens an old one), products per session (baskets for
-- co-occurrence, user and product for the favourites) and products per order (reorder days,
-- baskets). The dedup counts each event once, at its copy received last, so a copy received
-- again the next day moves it to that day's row.
-- Events without a user_id make rows of their device (anonymous_id), not of a user: a device is
-- given to its user by the feature queries, with the links known on the night they run, so the
-- rows a device sent before its login reach the user although these days are never rebuilt.
-- The recent_<table> partitions start a day before ${rebuilt_since}: derived sessions are named
-- by their first event, which may have been received the day before.
WITH all_orders AS (
  SELECT * FROM ${recent_orders}
),
activity AS (
  SELECT event_id, received_at, occurred_at, user_id, anonymous_id, session_id, event_type,
    intent, CAST(NULL AS STRING) AS product_id, CAST(NULL AS STRING) AS category
  FROM ${recent_searches}
  UNION ALL
  SELECT event_id, received_at, occurred_at, user_id, anonymous_id, session_id, event_type, NULL,
    product_id, category
  FROM ${recent_product_interactions}
  UNION ALL
  SELECT event_id, received_at, occurred_at, user_id, anonymous_id, session_id, event_type, NULL,
    NULL, NULL
  FROM all_orders
  UNION ALL
  SELECT event_id, received_at, occurred_at, user_id, anonymous_id, session_id, event_type, NULL,
    NULL, NULL
  FROM ${recent_sessions}
  UNION ALL
  SELECT event_id, received_at, occurred_at, user_id, anonymous_id, session_id, event_type,
    detected_intent, NULL, NULL
  FROM ${recent_voice_interactions}
),
sessionized AS (
${sessionize}
),
days AS (
  SELECT
    DATE(received_at) AS received_on,
    DATE(occurred_at) AS occurred_on,
    -- A row's owner: the trusted user, else the device.
    IFNULL(CONCAT('user:', user_id), CONCAT('device:', anonymous_id)) AS owner,
    user_id,
    IF(user_id IS NULL, anonymous_id, NULL) AS anonymous_id,
    * EXCEPT (user_id, anonymous_id)
  FROM sessionized
  WHERE received_at >= ${rebuilt_since}
    AND received_at < TIMESTAMP(DATE_ADD(@run_date, INTERVAL 1 DAY))
),
orders AS (
  SELECT
    DATE(received_at) AS received_on,
    DATE(occurred_at) AS occurred_on,
    IFNULL(CONCAT('user:', user_id), CONCAT('device:', anonymous_id)) AS owner,
    *
  FROM all_orders
  WHERE received_at >= ${rebuilt_since}
    AND received_at < TIMESTAMP(DATE_ADD(@run_date, INTERVAL 1 DAY))
),
counts AS (
  SELECT
    received_on,
    occurred_on,
    owner,
    ANY_VALUE(user_id) AS user_id,
    ANY_VALUE(anonymous_id) AS anonymous_id,
    COUNTIF(event_type = 'search') AS searches,
    COUNTIF(event_type = 'product_view') AS product_views,
    COUNTIF(event_type = 'product_click') AS product_clicks,
    COUNTIF(event_type = 'add_to_cart') AS add_to_carts,
    COUNTIF(event_type = 'voice_interaction') AS voice_interactions,
    MIN(occurred_at) AS first_seen,
    MAX(occurred_at) AS last_seen,
    ARRAY_AGG(DISTINCT session_id ORDER BY session_id) AS sessions
  FROM days
  GROUP BY received_on, occurred_on, owner
),
intents AS (
  SELECT received_on, occurred_on, owner,
    ARRAY_AGG(STRUCT(intent, events) ORDER BY intent) AS intents
  FROM (
    SELECT received_on, occurred_on, owner, intent, COUNT(*) AS events
    FROM days WHERE intent IS NOT NULL
    GROUP BY received_on, occurred_on, owner, intent
  )
  GROUP BY received_on, occurred_on, owner
),
items AS (
  SELECT received_on, occurred_on, owner,
    ARRAY_AGG(
      STRUCT(session_id, product_id, category, interactions)
      ORDER BY session_id, product_id, category
    ) AS items
  FROM (
    SELECT received_on, occurred_on, owner, session_id, product_id, category,
      COUNT(*) AS interactions
    FROM days WHERE product_id IS NOT NULL
    GROUP BY received_on, occurred_on, owner, session_id, product_id, category
  )
  GROUP BY received_on, occurred_on, owner
),
currencies AS (
  SELECT received_on, occurred_on, owner,
    ARRAY_AGG(STRUCT(currency, orders, total) ORDER BY currency) AS currencies
  FROM (
    SELECT received_on, occurred_on, owner, currency, COUNT(*) AS orders, SUM(total) AS total
    FROM orders
    GROUP BY received_on, occurred_on, owner, currency
  )
  GROUP BY received_on, occurred_on, owner
),
order_lines AS (
  SELECT received_on, occurred_on, owner,
    ARRAY_AGG(STRUCT(order_id, product_id) ORDER BY order_id, product_id) AS order_lines
  FROM (
    SELECT DISTINCT o.received_on, o.occurred_on, o.owner, o.order_id, item.product_id
    FROM orders AS o, UNNEST(o.items) AS item
  )
  GROUP BY received_on, occurred_on, owner
)
SELECT
  c.received_on,
  c.occurred_on,
  c.user_id,
  c.searches,
  c.product_views,
  c.product_clicks,
  c.add_to_carts,
  c.voice_interactions,
  c.first_seen,
  c.last_seen,
  c.sessions,
  IFNULL(i.intents, []) AS intents,
  IFNULL(p.items, []) AS items,
  IFNULL(o.currencies, []) AS currencies,
  IFNULL(l.order_lines, []) AS order_lines,
  c.anonymous_id
FROM counts AS c
LEFT JOIN intents AS i USING (received_on, occurred_on, owner)
LEFT JOIN items AS p USING (received_on, occurred_on, owner)
LEFT JOIN currencies AS o USING (received_on, occurred_on, owner)
LEFT JOIN order_lines AS l USING (received_on, occurred_on, owner)
