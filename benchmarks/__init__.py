"""Bulk-insert benchmarks: every way of loading N rows through SQLAlchemy, against each backend's physical limit."""
