-- A partial table's run: the days received from @run_date - ${since_days} to @run_date are
-- replaced by the query's rows, so re-running a night or a backfill never doubles them.
DELETE FROM `${table}`
WHERE ${partition_field} BETWEEN DATE_SUB(@run_date, INTERVAL ${since_days} DAY) AND @run_date;

INSERT INTO `${table}` (${columns})
${query};
