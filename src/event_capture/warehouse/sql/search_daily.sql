-- Daily search aggregates per normalized query and intent, for the day before @run_date. No user
-- or session id leaves this query, and a row is kept only when at least ${min_users} distinct
-- users made that search, so a rare (and so identifying) query never reaches the table.
WITH searches AS (
  SELECT
    event_id,
    user_id,
    intent,
    result_count,
    -- Lower-cased, whitespace collapsed, and long digit runs (order numbers, postcodes) masked;
    -- e-mail addresses, phone and card numbers were replaced at capture.
    TRIM(REGEXP_REPLACE(REGEXP_REPLACE(LOWER(query), r'[0-9]{5,}', '#'), r'\s+', ' '))
      AS normalized_query
  FROM ${recent_searches}
  WHERE DATE(occurred_at) = DATE_SUB(@run_date, INTERVAL 1 DAY)
),
outcomes AS (
  SELECT
    search_event_id,
    LOGICAL_OR(event_type = 'product_click') AS clicked,
    LOGICAL_OR(event_type = 'add_to_cart') AS carted
  FROM ${recent_product_interactions}
  WHERE search_event_id IS NOT NULL
  GROUP BY search_event_id
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS day,
  s.normalized_query,
  s.intent,
  COUNT(*) AS searches,
  COUNT(DISTINCT s.user_id) AS users,
  COUNTIF(s.result_count = 0) / COUNT(*) AS zero_result_rate,
  COUNTIF(COALESCE(o.clicked, FALSE)) / COUNT(*) AS click_through_rate,
  COUNTIF(COALESCE(o.carted, FALSE)) / COUNT(*) AS add_to_cart_rate
FROM searches AS s
LEFT JOIN outcomes AS o ON o.search_event_id = s.event_id
GROUP BY s.normalized_query, s.intent
HAVING COUNT(DISTINCT s.user_id) >= ${min_users}
