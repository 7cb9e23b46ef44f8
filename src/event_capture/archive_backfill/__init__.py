"""The archive backfill: writes into the archive the events BigQuery holds and the archive lacks.

Run on a schedule by the ``archive-backfill`` function (``function``; Cloud Scheduler, Pub/Sub)
over the last hours that have settled, and by operators over any range
(``tools/backfill_archive.py``). It fills the gaps an instance killed before its group commit
left (``ingest/archive_group.py``), and those of a Cloud Storage outage. It rebuilds each line
with the capture pipeline's own validation, so it sits above ``ingest`` in the layers.
"""
