"""What every benchmark shares: its options, its result tables, and how a table is printed."""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BenchOptions:
    """The command line, as a benchmark sees it."""

    events: int = 20_000
    repeats: int = 3
    batch_size: int | None = None  # None: the service default (ServiceSettings)
    stores: tuple[str, ...] = ("sqlite", "postgresql")


@dataclass
class Table:
    """A titled table of figures, printed with aligned columns, plus notes under it."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            # The first column (a name) is left-aligned, the figures right-aligned.
            parts = [
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "| " + " | ".join(parts) + " |"

        rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
        out = [self.title, rule, line(self.columns), rule]
        out += [line(row) for row in self.rows]
        out.append(rule)
        for note in self.notes:
            out += textwrap.wrap(note, width=100, initial_indent="  ", subsequent_indent="    ")
        return "\n".join(out)


Benchmark = Callable[[BenchOptions], Awaitable[list[Table]]]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rate(value: float) -> str:
    """Events per second, grouped by thousands."""
    return "-" if value != value else f"{value:,.0f}"  # NaN: no figure
