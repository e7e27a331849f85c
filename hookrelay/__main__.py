"""``python -m hookrelay``: the same as the ``hookrelay`` command."""

import sys

from hookrelay.cli import main

sys.exit(main())
