-- A scheduled run: the day's partition is replaced by the query's rows, so a re-run or a
-- backfill never doubles them.
DELETE FROM `${table}`
WHERE ${partition_field} = DATE_SUB(@run_date, INTERVAL 1 DAY);

INSERT INTO `${table}` (${columns})
${query};
