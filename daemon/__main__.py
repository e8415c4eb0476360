"""`python -m daemon` does what the `parkdesk` command does."""

from daemon.cli import main

raise SystemExit(main())
