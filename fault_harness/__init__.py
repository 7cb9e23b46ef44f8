"""Fault injection on a ``LocalCloud``: a capture function under load while a backend fails.

One run of a ``Scenario`` (``run.run_scenario``):

1. A capture function of its own starts on the cloud, writing to a dataset and bucket of the
   harness (``target``: event tables, the warehouse's ``_dedup`` views, a bucket that holds
   both the archive and the dead letters, so replay touches nothing of anyone else's).
2. Sender threads post batches of uniquely identified events (``sample_batch``: fresh uuids),
   released at an even pace over the run, each by the capture client's retry rules
   (``senders``): the identical body again after a 503 or 429 (or any 5xx), a connection error
   or a timeout; never after another 4xx. Retry-After is honoured but capped at 1 s
   (``ClientPolicy``) where the function asks for 10 s, only to keep runs short: waiting longer
   would exercise nothing more.
3. After ``Load.lead_seconds`` the scenario injects its fault (``scenarios``: SIGKILL, SIGSTOP,
   a killed gunicorn worker) and undoes it; the senders keep going through it and after.
4. The function is stopped as Cloud Run stops an instance (SIGTERM: its worker writes the
   archive lines it holds). Dead letters are replayed (``tools.replay``) until none is left,
   then BigQuery is read (``check``): every acknowledged event (the events of batches answered
   200/207, minus those rejected) must be in the ``_dedup`` views exactly once. Raw copies
   beyond the first are counted, not failed: at-least-once delivery allows them and the views
   hide them.
5. The scheduled backfill (``event_capture.archive_backfill``) runs over the run's range, then
   the archive is read: every acknowledged event must have a line in it. The lines the
   backfill wrote (what killed workers lost) and lines beyond the first per event are counted.

Every attempt's wait (request sent to answer or error) is kept, so the report (``report``)
gives the waits' median, p99 and maximum per scenario, overall and for attempts started during
the fault.

``tests/integration/test_faults.py`` runs a quick subset on the session's cloud;
``bench/faults.py`` runs every scenario with more events on a cloud of its own.
"""
