"""The library version, written into every saved file."""

VERSION = "0.1.0"
