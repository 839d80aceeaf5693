"""Load the sqla-conformance pytest plugin for the behaviour suites and the machinery tests."""

pytest_plugins = ("fixtures.plugin", "fixtures.target_facts")
