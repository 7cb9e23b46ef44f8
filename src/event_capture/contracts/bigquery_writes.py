"""Which BigQuery API the capture path writes through unless a stack says otherwise.

Read by the capture configuration (``BIGQUERY_WRITE_API``'s default), the Pulumi program (the
``bigqueryWriteApi`` setting's) and the cost model (the path the bill assumes); plain Python, so
the Pulumi program imports it without the functions' packages.

insertAll: the Storage Write API measured 1.3-1.8x its CPU per event
(docs/decisions/0006-storage-write-api.md).
"""

WRITE_API_BY_DEFAULT = False
