"""Entry point for `python -m eventgen`."""

import sys

from eventgen.cli import main

sys.exit(main())
