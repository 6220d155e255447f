import sys

from gaia_lite.cli import main

sys.exit(main())
