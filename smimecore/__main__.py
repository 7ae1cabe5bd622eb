"""``python -m smimecore``: the command-line interface."""

from smimecore.cli.main import main

raise SystemExit(main())
