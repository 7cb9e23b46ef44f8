-- Journeys across the login, per day: the sessions of devices not logged in (events without a
-- user_id, so from an anonymous_id), the devices that had them, and how many of those devices
-- became a known user (linked to one, events_sessionized's stitched_user_id, by now) with their
-- sessions. Counts only: no device, session or user id leaves the view.
WITH anonymous AS (
  SELECT
    DATE(occurred_at) AS day,
    anonymous_id,
    session_id,
    stitched_user_id IS NOT NULL AS linked
  FROM `${events}.events_sessionized`
  WHERE user_id IS NULL
)
SELECT
  day,
  COUNT(DISTINCT session_id) AS anonymous_sessions,
  COUNT(DISTINCT anonymous_id) AS anonymous_devices,
  COUNT(DISTINCT IF(linked, session_id, NULL)) AS linked_sessions,
  COUNT(DISTINCT IF(linked, anonymous_id, NULL)) AS linked_devices
FROM anonymous
GROUP BY day
