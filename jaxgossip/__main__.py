"""``python -m jaxgossip`` runs the command line."""

from jaxgossip.cli import main

raise SystemExit(main())
