"""The import's helper process: ``python -m oversight.importing.helper_process ARGS_JSON``.

A module of its own so that what it pickles is named by its real module path."""

import sys

from oversight.importing.service import child_main

if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
