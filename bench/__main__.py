"""``python -m bench``: runs the benchmarks and prints the report (see bench/report.py)."""

from __future__ import annotations

import sys

from .report import main

sys.exit(main())
