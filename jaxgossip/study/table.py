"""Aligned plain-text tables: the one formatter of every summary the package prints."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def display_width(text: str) -> int:
    """Printed width: the macron of x̄ is a combining character, drawn over the x."""
    return sum(not unicodedata.combining(c) for c in text)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> str:
    """The header, a rule of dashes, and one line per row, columns two spaces apart.

    Args:
      header: the column titles, C strings.
      rows: each a sequence of C strings.
      left: how many leading columns (labels) align left; the others, numbers,
        align right. Trailing spaces are dropped.
    """
    widths = [
        max(display_width(h), *(display_width(row[c]) for row in rows))
        for c, h in enumerate(header)
    ]

    def line(cells):
        return "  ".join(
            c + " " * (w - display_width(c)) if k < left else " " * (w - display_width(c)) + c
            for k, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])
