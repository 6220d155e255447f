"""``python -m gaia_lite.cli``: the same as ``gaia-lite``."""

import sys

from . import main

sys.exit(main())
