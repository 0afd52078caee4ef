"""``python -m alphazero`` runs the command line."""

import sys

from alphazero.run.cli import main

sys.exit(main())
