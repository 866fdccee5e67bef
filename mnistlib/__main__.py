"""`python -m mnistlib`: the command line (see mnistlib.cli)."""
import sys

from .cli import main

sys.exit(main())
