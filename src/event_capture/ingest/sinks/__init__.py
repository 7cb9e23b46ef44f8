"""Where accepted events go. Each sink is independent: one failing never blocks the others."""
