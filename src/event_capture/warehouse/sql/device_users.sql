-- Each linked device's user: identity_links holds only trusted links (proven identify calls,
-- server keys, events with both ids). A device linked to several users (a shared computer, a
-- logout and another login) belongs to its most recent link, so a device counts for one user.
-- Read raw over the retention window: a repeated copy of a link changes nothing here.
SELECT
  anonymous_id,
  ARRAY_AGG(user_id ORDER BY occurred_at DESC, received_at DESC, user_id LIMIT 1)[OFFSET(0)]
    AS user_id
FROM `${events}.identity_links` WHERE received_at >= ${view_since}
GROUP BY anonymous_id
