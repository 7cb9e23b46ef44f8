"""The local cloud for development, tests and benchmarks: real emulators on loopback, no cloud."""
