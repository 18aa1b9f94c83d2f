-- purpose: the values of the user attributes that business filters and breakdowns use, with how many users have each
-- grain: one row per (dimension, value); dimension: device | country | plan | channel
-- columns: dimension VARCHAR, value VARCHAR, users BIGINT
--
-- Users without a value for an attribute are left out. Ordered by dimension, then most users first.
SELECT dimension, value, COUNT(*) AS users
FROM (
    SELECT 'device' AS dimension, device AS value FROM users
    UNION ALL SELECT 'country', country FROM users
    UNION ALL SELECT 'plan', plan FROM users
    UNION ALL SELECT 'channel', acquisition_channel FROM users
) AS d
WHERE value IS NOT NULL
GROUP BY dimension, value
ORDER BY dimension, users DESC, value
