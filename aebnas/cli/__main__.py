"""``python -m aebnas.cli``: the same as the ``aebnas`` command."""

import sys

from aebnas.cli import main

sys.exit(main())
