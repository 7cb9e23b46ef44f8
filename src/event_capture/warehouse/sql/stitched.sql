-- The rows of partial_rows (a partial table's, already cut to the days a feature query needs)
-- as the per-user features count them: a device's rows are its linked user's (device_users.sql),
-- and a device linked to no one has none, since its id is anyone's to send.
SELECT COALESCE(p.user_id, d.user_id) AS user_id, p.* EXCEPT (user_id, anonymous_id)
FROM partial_rows AS p
LEFT JOIN (
${device_users}
) AS d ON d.anonymous_id = p.anonymous_id
WHERE p.user_id IS NOT NULL OR d.user_id IS NOT NULL
