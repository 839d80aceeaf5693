"""The publishing side of sqla-conformance: results schema, merge, HTML report, upgrade gate."""
