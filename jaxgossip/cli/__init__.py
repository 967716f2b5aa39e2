"""The command line: one module per command."""

from jaxgossip.cli.main import main

__all__ = ["main"]
