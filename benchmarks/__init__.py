"""Benchmarks that time jijiu against named peers in the same run (see STYLE.md section 7)."""
