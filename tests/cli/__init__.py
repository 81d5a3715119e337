"""Tests for the command line (tracker.cli)."""
