"""Measured and assumed figures of the capture path that more than one cost calculation uses
(the monthly bill, ``model``; a flood's day, ``flood``): each once, with where it comes from."""

# Wall time of one capture request in the cloud (an insertAll round trip and an archive upload,
# in parallel): not measured, the emulators answer on loopback.
REQUEST_SECONDS = 0.2
# The function's CPU (docs/benchmarks.md, Capture: 21.0-24.5 us per event at batch 500 over
# HTTP, about 2,070 at batch 1): c(b) = per_request / b + per_event fits both.
CPU_US_PER_REQUEST = 2_050.0
CPU_US_PER_EVENT = 19.5
