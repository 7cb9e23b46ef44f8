-- The rows of activity (event_id, occurred_at, user_id, anonymous_id, session_id and any other
-- columns) with session_id as sent, else derived, and session_derived saying which. A derived
-- session belongs to a device (its anonymous_id) or, for a server event without one, to the
-- user: that key's session-less events in occurred_at order, a new session after more than
-- ${session_gap_minutes} minutes without one. Its id is the key and its first event's time, so
-- every reader that sees the same events names the session alike.
SELECT
  * EXCEPT (session_id, session_key, starts_session),
  COALESCE(
    session_id,
    CONCAT(
      'derived:',
      session_key,
      ':',
      CAST(
        UNIX_MILLIS(
          MAX(IF(starts_session, occurred_at, NULL)) OVER (
            PARTITION BY session_key, session_id IS NULL
            ORDER BY occurred_at, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
          )
        ) AS STRING
      )
    )
  ) AS session_id,
  session_id IS NULL AS session_derived
FROM (
  SELECT
    *,
    COALESCE(anonymous_id, user_id) AS session_key,
    IFNULL(
      occurred_at > TIMESTAMP_ADD(
        LAG(occurred_at) OVER (
          PARTITION BY COALESCE(anonymous_id, user_id), session_id IS NULL
          ORDER BY occurred_at, event_id
        ),
        INTERVAL ${session_gap_minutes} MINUTE
      ),
      TRUE
    ) AS starts_session
  FROM activity
)
