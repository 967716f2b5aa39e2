"""``python -m jaxgossip.cli`` runs the command line."""

from jaxgossip.cli.main import main

raise SystemExit(main())
