"""``python3 -m hermite_dual.audit --budget N --out docs/theory-audit.md``."""

import sys

from .report import main

sys.exit(main())
