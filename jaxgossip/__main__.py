"""``python -m jaxgossip`` runs the command line."""

from jaxgossip.cli.main import main

raise SystemExit(main())
