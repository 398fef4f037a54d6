"""Input validation and secret redaction applied before anything is stored."""
