"""The cost guard: budget notifications in, capture switched to archive-only and back out.

``notification`` reads a budget notification, ``decision`` decides what it calls for, ``guard``
carries that out (``control_store``, ``scheduled_queries``, ``archive_load``), and
``functions/cost-guard`` and ``tools/cost_guard.py`` are the two ways in.
"""
