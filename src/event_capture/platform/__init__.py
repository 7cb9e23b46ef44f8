"""What every function does the same way, knowing nothing of events: configuration primitives,
cloud and Redis clients and the Protocols of what the code uses of them, bounded body reading
and JSON parsing, the JSON answer and the crash answer, every-path serving, and the one
time-stamped log writer."""
