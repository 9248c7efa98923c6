"""``python3 -m hermite_dual.conditions --write-docs docs/conditions.md``."""

from .table import _main

raise SystemExit(_main())
