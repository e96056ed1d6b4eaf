"""Collect a sweep's runs into a table (CSV + markdown) and trade-off plots (PNG).

    python experiments/report.py multirun/default [--out DIR]

Same as ``privsynth report``; the logic lives in :mod:`privsynth.report`.
"""

import sys

from privsynth.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
