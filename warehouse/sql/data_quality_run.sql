-- The scheduled data-quality run: replace the day's results (a re-run must not double them),
-- then fail if any rule failed.
DELETE FROM `${analytics}.data_quality`
WHERE check_date = DATE_SUB(@run_date, INTERVAL 1 DAY);

INSERT INTO `${analytics}.data_quality`
  (check_date, rule, family, field, value, threshold, passed, rows_checked)
${data_quality};

${data_quality_alert};
