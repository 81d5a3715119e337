"""tracker: an event-sourced policy tracker."""

__version__ = "0.1.0"
