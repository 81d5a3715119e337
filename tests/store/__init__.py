"""Tests for the event store (tracker.store), export/import and retries."""
