"""Tests for the projections (tracker.projections), the projector and following the log."""
