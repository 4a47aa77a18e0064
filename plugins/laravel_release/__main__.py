"""``python -m laravel_release``: the command line (see cli.py)."""

import sys

from laravel_release.cli import main

if __name__ == "__main__":  # Airflow's plugin manager imports every file under plugins/
    sys.exit(main())
