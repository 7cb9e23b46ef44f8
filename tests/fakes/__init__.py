"""Stand-ins the unit and client tests share, one of each, typed against the surface it replaces;
where the real peer runs locally (the emulators, redis-server, functions-framework), an
integration test proves the same contract against it.

clock (time.monotonic, and the cost guard's datetime clock), bigquery (the BigQuery client),
storage (Cloud Storage), redis (a Redis client, and a redis-server of the test's own), sinks
(the capture pipeline's sinks), api_transport (the capture path's HTTP transport), id_tokens
(google-auth's ID token credentials), functions (a function served in process).
"""
