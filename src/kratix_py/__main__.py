"""``python -m kratix_py`` is the ``kratix-py`` command."""

import sys

from kratix_py.cli import main

sys.exit(main())
