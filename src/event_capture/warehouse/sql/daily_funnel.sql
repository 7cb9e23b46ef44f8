-- Search -> click -> add to cart -> order, per day: how many users reached each step. A user
-- counts at a step only if they also took every earlier step that day.
WITH steps AS (
  SELECT DATE(occurred_at) AS day, user_id, 'search' AS step
  FROM `${events}.searches_dedup`
  UNION ALL
  SELECT DATE(occurred_at), user_id, IF(event_type = 'product_click', 'click', 'cart')
  FROM `${events}.product_interactions_dedup`
  WHERE event_type IN ('product_click', 'add_to_cart')
  UNION ALL
  SELECT DATE(occurred_at), user_id, 'order'
  FROM `${events}.orders_dedup`
),
users AS (
  SELECT
    day,
    LOGICAL_OR(step = 'search') AS searched,
    LOGICAL_OR(step = 'click') AS clicked,
    LOGICAL_OR(step = 'cart') AS carted,
    LOGICAL_OR(step = 'order') AS ordered
  FROM steps
  GROUP BY day, user_id
)
SELECT
  day,
  COUNTIF(searched) AS searchers,
  COUNTIF(searched AND clicked) AS clickers,
  COUNTIF(searched AND clicked AND carted) AS carters,
  COUNTIF(searched AND clicked AND carted AND ordered) AS buyers,
  SAFE_DIVIDE(COUNTIF(searched AND clicked), COUNTIF(searched)) AS search_to_click,
  SAFE_DIVIDE(COUNTIF(searched AND clicked AND carted), COUNTIF(searched AND clicked))
    AS click_to_cart,
  SAFE_DIVIDE(
    COUNTIF(searched AND clicked AND carted AND ordered), COUNTIF(searched AND clicked AND carted)
  ) AS cart_to_order
FROM users
GROUP BY day
