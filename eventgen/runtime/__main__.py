"""`python -m eventgen.runtime`: the runner (eventgen.runtime.runner)."""

from __future__ import annotations

import sys

from eventgen.runtime.runner import main

if __name__ == "__main__":
    sys.exit(main())
