"""`python -m probegate` runs the command line."""

import sys

from probegate.cli import main

sys.exit(main())
