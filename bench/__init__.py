"""framecryptor's benchmark suite.

- ``python -m bench`` (bench/report.py): measures every case, prints the results table,
  checks the performance targets, writes bench/results/ (markdown, JSON, PNG plot).
- ``python -m pytest bench --benchmark-enable``: the same cases as pytest-benchmark groups.
- bench/pyref.py: the pure-Python baseline (the LiveKit format on ``cryptography``).
"""
