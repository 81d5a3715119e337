"""Helpers shared by the tests: the loopback feed server, child-process functions, paths."""
