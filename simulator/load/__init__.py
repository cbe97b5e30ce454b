"""The load test: a lean load generator, its fleet and consoles, the target server and the
report."""
