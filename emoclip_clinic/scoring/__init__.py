"""Interview scoring: scales, labels, ..."""
