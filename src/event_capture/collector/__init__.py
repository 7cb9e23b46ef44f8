"""The collector function: the Segment tracking API (what every Segment and RudderStack SDK
speaks) in front of the capture pipeline, mapped to native events so that the same
validation, scrubbing and sinks apply unchanged."""
