"""Job functions at stable import paths (``tracker.jobs.*``): APScheduler stores these paths."""
