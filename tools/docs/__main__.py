"""`python -m tools.docs docs/events` (`make docs`), `... --check` (`make docs-check`)."""

from tools.docs.cli import main

raise SystemExit(main())
