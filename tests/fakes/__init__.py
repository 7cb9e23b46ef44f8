"""Stand-ins the unit tests share, each typed against the surface it replaces; for each, an
integration test proves the same contract against the real peer."""
