"""Tests for the scheduled jobs (jobs, installed as tracker.jobs)."""
