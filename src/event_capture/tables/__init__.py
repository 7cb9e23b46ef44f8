"""The BigQuery event tables, one per family: generated from the schemas, checked in as JSON.

The infrastructure program and the local cloud create the tables from the same files.
"""
