"""Features served to the app: the nightly snapshot in Redis, merged with live activity."""
