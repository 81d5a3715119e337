"""Tests for the ingest domain (tracker.ingest)."""
