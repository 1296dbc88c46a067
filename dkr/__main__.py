# chapter: 1
"""`python3 -m dkr …` starts here."""

import sys

from dkr.cli import main

sys.exit(main())
