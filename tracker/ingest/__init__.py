"""Feed ingest: fetch, parse, identify, classify, extract and group news items (pure domain)."""
