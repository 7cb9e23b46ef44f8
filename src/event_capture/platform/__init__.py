"""What every function does the same way, knowing nothing of events: configuration primitives,
cloud and Redis clients, bounded body reading and JSON parsing, the JSON answer and the crash
answer, every-path serving, and the one time-stamped log writer."""
