-- The daily data-quality rules for the day before @run_date: one row per rule (and family or
-- field), with the measured value, the rule's threshold and whether it passed. A rule with
-- nothing to measure passes with a NULL value.
WITH received AS (
  -- Every stored copy received in the last nine days: duplicates must stay visible here.
  SELECT 'searches' AS family, event_id, occurred_at, received_at
  FROM `${events}.searches` WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 9 DAY))
  UNION ALL
  SELECT 'product_interactions', event_id, occurred_at, received_at
  FROM `${events}.product_interactions`
  WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 9 DAY))
  UNION ALL
  SELECT 'orders', event_id, occurred_at, received_at
  FROM `${events}.orders` WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 9 DAY))
  UNION ALL
  SELECT 'sessions', event_id, occurred_at, received_at
  FROM `${events}.sessions` WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 9 DAY))
  UNION ALL
  SELECT 'voice_interactions', event_id, occurred_at, received_at
  FROM `${events}.voice_interactions`
  WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 9 DAY))
),
received_that_day AS (
  SELECT * FROM received
  WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
    AND received_at < TIMESTAMP(@run_date)
),
events_per_day AS (
  SELECT family, DATE(occurred_at) AS day, COUNT(DISTINCT event_id) AS events
  FROM received GROUP BY family, DATE(occurred_at)
),
-- Days without events count as zero, or a family that stopped would raise its own baseline.
baseline AS (
  SELECT DISTINCT
    family,
    PERCENTILE_CONT(COALESCE(e.events, 0), 0.5) OVER (PARTITION BY family) AS median
  FROM UNNEST(['searches', 'product_interactions', 'orders', 'sessions', 'voice_interactions'])
    AS family
  CROSS JOIN UNNEST(
    GENERATE_DATE_ARRAY(DATE_SUB(@run_date, INTERVAL 8 DAY), DATE_SUB(@run_date, INTERVAL 2 DAY))
  ) AS day
  LEFT JOIN events_per_day AS e USING (family, day)
),
volume AS (
  SELECT
    'volume_vs_7_day_median' AS rule,
    b.family,
    CAST(NULL AS STRING) AS field,
    SAFE_DIVIDE(COALESCE(e.events, 0), b.median) AS value,
    0.5 AS threshold,
    b.median = 0 OR COALESCE(e.events, 0) >= 0.5 * b.median AS passed,
    COALESCE(e.events, 0) AS rows_checked
  FROM baseline AS b
  LEFT JOIN events_per_day AS e
    ON e.family = b.family AND e.day = DATE_SUB(@run_date, INTERVAL 1 DAY)
),
duplicates AS (
  SELECT
    'duplicate_event_id_rate' AS rule,
    family,
    CAST(NULL AS STRING) AS field,
    (COUNT(*) - COUNT(DISTINCT event_id)) / COUNT(*) AS value,
    0.01 AS threshold,
    (COUNT(*) - COUNT(DISTINCT event_id)) / COUNT(*) <= 0.01 AS passed,
    COUNT(*) AS rows_checked
  FROM received_that_day GROUP BY family
),
late AS (
  SELECT
    'late_arrival_rate' AS rule,
    family,
    CAST(NULL AS STRING) AS field,
    COUNTIF(TIMESTAMP_DIFF(received_at, occurred_at, HOUR) >= 24) / COUNT(*) AS value,
    0.05 AS threshold,
    COUNTIF(TIMESTAMP_DIFF(received_at, occurred_at, HOUR) >= 24) / COUNT(*) <= 0.05 AS passed,
    COUNT(*) AS rows_checked
  FROM received_that_day GROUP BY family
),
searches AS (
  SELECT * FROM ${recent_searches}
  WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
    AND received_at < TIMESTAMP(@run_date)
),
interactions AS (
  SELECT * FROM ${recent_product_interactions}
  WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
    AND received_at < TIMESTAMP(@run_date)
),
orders AS (
  SELECT
    order_id,
    total,
    (SELECT SUM(item.quantity * item.unit_price) FROM UNNEST(items) AS item) AS items_total
  FROM ${recent_orders}
  WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
    AND received_at < TIMESTAMP(@run_date)
),
voice AS (
  SELECT * FROM ${recent_voice_interactions}
  WHERE received_at >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
    AND received_at < TIMESTAMP(@run_date)
),
-- Fields the schema lets the app leave out, but that the features and dashboards rely on.
null_rates AS (
  SELECT 'null_rate' AS rule, 'searches' AS family, 'latency_ms' AS field,
    SAFE_DIVIDE(COUNTIF(latency_ms IS NULL), COUNT(*)) AS value, COUNT(*) AS rows_checked
  FROM searches
  UNION ALL
  SELECT 'null_rate', 'product_interactions', 'category',
    SAFE_DIVIDE(COUNTIF(category IS NULL), COUNT(*)), COUNT(*)
  FROM interactions
  UNION ALL
  SELECT 'null_rate', 'voice_interactions', 'language',
    SAFE_DIVIDE(COUNTIF(language IS NULL), COUNT(*)), COUNT(*)
  FROM voice
),
-- Rates over one family's events, each with its own threshold.
rates AS (
  SELECT rule, family, field, value, 0.05 AS threshold, rows_checked FROM null_rates
  UNION ALL
  SELECT 'order_total_mismatch_rate', 'orders', 'total',
    SAFE_DIVIDE(COUNTIF(total != items_total), COUNT(*)), 0.0, COUNT(*)
  FROM orders
  UNION ALL
  SELECT 'orphan_click_rate', 'product_interactions', 'search_event_id',
    SAFE_DIVIDE(COUNTIF(s.event_id IS NULL), COUNT(*)), 0.05, COUNT(*)
  FROM interactions AS i
  LEFT JOIN (
    -- A click may follow a search made just before midnight.
    SELECT event_id FROM ${recent_searches}
  ) AS s ON s.event_id = i.search_event_id
  WHERE i.event_type = 'product_click' AND i.search_event_id IS NOT NULL
  UNION ALL
  -- Over the searches that carry an intent: Segment's spec search has none, and no label is not
  -- a wrong label.
  SELECT 'unknown_intent_rate', 'searches', 'intent',
    SAFE_DIVIDE(COUNTIF(intent NOT IN UNNEST(${known_intents})), COUNT(intent)), 0.05,
    COUNT(intent)
  FROM searches
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS check_date,
  rule, family, field, value, threshold, passed, rows_checked
FROM (
  SELECT * FROM volume
  UNION ALL
  SELECT * FROM duplicates
  UNION ALL
  SELECT * FROM late
  UNION ALL
  SELECT rule, family, field, value, threshold, value IS NULL OR value <= threshold, rows_checked
  FROM rates
)
