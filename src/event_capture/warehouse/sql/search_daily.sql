-- Daily search aggregates per normalized query and intent, for the day before @run_date. No user
-- or session id leaves this query, and a row is kept only when at least ${min_users} distinct
-- trusted users made that search, so a rare (and so identifying) query never reaches the table.
-- Trusted: a user_id, or the user a device is linked to (device_users.sql). An unlinked device's
-- anonymous_id is anyone's to make up, so its searches add to the totals but never to k: made-up
-- ids cannot carry a rare query over the threshold. A search without an intent (Segment's spec
-- has none) keeps a NULL intent, and the rates count the searches that reported a result count.
WITH device_users AS (
${device_users}
),
searches AS (
  SELECT
    s.event_id,
    COALESCE(s.user_id, d.user_id) AS trusted_user_id,
    s.intent,
    s.result_count,
    -- Lower-cased, whitespace collapsed, and long digit runs (order numbers, postcodes) masked;
    -- e-mail addresses, phone and card numbers were replaced at capture.
    TRIM(REGEXP_REPLACE(REGEXP_REPLACE(LOWER(s.query), r'[0-9]{5,}', '#'), r'\s+', ' '))
      AS normalized_query
  FROM ${recent_searches} AS s
  LEFT JOIN device_users AS d ON d.anonymous_id = s.anonymous_id
  WHERE DATE(s.occurred_at) = DATE_SUB(@run_date, INTERVAL 1 DAY)
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
  COUNT(DISTINCT s.trusted_user_id) AS users,
  SAFE_DIVIDE(COUNTIF(s.result_count = 0), COUNT(s.result_count)) AS zero_result_rate,
  COUNTIF(COALESCE(o.clicked, FALSE)) / COUNT(*) AS click_through_rate,
  COUNTIF(COALESCE(o.carted, FALSE)) / COUNT(*) AS add_to_cart_rate,
  COUNT(s.result_count) AS searches_with_result_count
FROM searches AS s
LEFT JOIN outcomes AS o ON o.search_event_id = s.event_id
GROUP BY s.normalized_query, s.intent
HAVING COUNT(DISTINCT s.trusted_user_id) >= ${min_users}
