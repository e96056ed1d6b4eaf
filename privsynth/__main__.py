"""``python -m privsynth`` runs the command line."""

import sys

from privsynth.cli import main

sys.exit(main())
