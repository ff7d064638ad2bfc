"""``python -m pipes_fast``: the ``pipes-fast`` command line."""

from pipes_fast.cli import main

raise SystemExit(main())
