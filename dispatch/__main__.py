"""Run the `jijiu` command line as `python -m dispatch`."""

from dispatch.cli import main

raise SystemExit(main())
