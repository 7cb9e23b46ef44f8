-- Search -> click -> add to cart -> order, per day: how many people reached each step. A person
-- counts at a step only if they also took every earlier step that day. A person is a stitched
-- user (events_sessionized), so a search made on a device before its login and the order after
-- it are one person's; a device linked to no one is a person of its own. sessions counts the
-- day's sessions with any of these steps, as sent or derived.
WITH steps AS (
  SELECT
    DATE(occurred_at) AS day,
    IFNULL(CONCAT('user:', stitched_user_id), CONCAT('device:', anonymous_id)) AS person,
    session_id,
    CASE event_type
      WHEN 'search' THEN 'search'
      WHEN 'product_click' THEN 'click'
      WHEN 'add_to_cart' THEN 'cart'
      WHEN 'order_placed' THEN 'order'
    END AS step
  FROM `${events}.events_sessionized`
  WHERE event_type IN ('search', 'product_click', 'add_to_cart', 'order_placed')
),
people AS (
  SELECT
    day,
    LOGICAL_OR(step = 'search') AS searched,
    LOGICAL_OR(step = 'click') AS clicked,
    LOGICAL_OR(step = 'cart') AS carted,
    LOGICAL_OR(step = 'order') AS ordered
  FROM steps
  GROUP BY day, person
),
day_sessions AS (
  SELECT day, COUNT(DISTINCT session_id) AS sessions FROM steps GROUP BY day
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
  ) AS cart_to_order,
  sessions
FROM people
JOIN day_sessions USING (day)
GROUP BY day, sessions
