"""The message layer: MIME bytes in and out.  It calls ``cms`` and nothing above it."""
