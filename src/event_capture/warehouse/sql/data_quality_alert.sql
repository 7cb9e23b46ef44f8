-- Fails the run, naming every failed rule, when any rule of the day failed. The scheduled query's
-- error is what Cloud Logging records and the "data quality" alert policy matches.
SELECT
  IF(
    COUNTIF(NOT passed) = 0,
    'data_quality_passed',
    ERROR(CONCAT(
      '${quality_failed}: ',
      STRING_AGG(
        IF(passed, NULL, CONCAT(rule, ' ', family, COALESCE(CONCAT('.', field), ''))), ', '
        ORDER BY rule, family
      )
    ))
  ) AS outcome
FROM `${analytics}.data_quality`
WHERE check_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
