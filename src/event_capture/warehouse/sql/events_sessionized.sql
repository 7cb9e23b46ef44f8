-- Every activity event once (the _dedup views of every family but identity_links), with the
-- user it counts for and its session. stitched_user_id is the trusted user_id, else the user
-- its device is linked to (device_users.sql), else NULL: an unlinked device stays anonymous.
WITH activity AS (
${activity_events}
),
sessionized AS (
${sessionize}
),
device_users AS (
${device_users}
)
SELECT
  s.event_id,
  s.event_type,
  s.occurred_at,
  s.received_at,
  s.user_id,
  s.anonymous_id,
  COALESCE(s.user_id, d.user_id) AS stitched_user_id,
  s.session_id,
  s.session_derived
FROM sessionized AS s
LEFT JOIN device_users AS d ON d.anonymous_id = s.anonymous_id
