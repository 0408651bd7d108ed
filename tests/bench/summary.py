"""The issue-15 table `make bench` prints at the end: every figure it names, measured in this run
beside its raw anchor and the floor, and met / NOT MET.

A benchmark records its figures with `tests.bench.common.record(...)`; a row nobody recorded in
this run prints "not measured" with the benchmark that measures it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.bench.common import Figure, Table


@dataclass(frozen=True)
class Row:
    figure_id: str
    title: str
    benchmark: str  # the benchmark that records it (`--only` name)
    stores: tuple[str, ...] = ("sqlite", "postgresql")


#: The rows of the issue's table, in its order.
ROWS: tuple[Row, ...] = (
    Row("projection_live", "coverage projection live ÷ raw nats-py consume", "coverage_projection"),
    Row("outbox_relay", "outbox relay ÷ raw nats-py publish_async", "outbox_relay"),
    Row(
        "projection_rebuild",
        "rebuild of the province from the stream",
        "coverage_projection",
        ("sqlite",),
    ),
    Row("coverage_read_p99", "GET /v1/coverage p99 while consuming", "coverage_projection"),
    Row("commit_to_visible_p99", "registry commit → coverage visible p99", "coverage_freshness"),
    Row("registry_import", "import via API ÷ raw executemany", "registry_import"),
    Row("service_rss", "peak RSS of a service process", "coverage_projection"),
    Row("registry_writes", "POST /v1/organizations ×20 ÷ bare FastAPI", "registry_writes"),
    Row("registry_writes_p99", "POST /v1/organizations ×20 p99", "registry_writes"),
)


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value != value:  # NaN
        return "nan"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def _line(figure: Figure, title: str) -> list[str]:
    if figure.anchor is None:
        ratio, floor = "-", f"< {number(figure.floor, figure.unit)}"
    else:
        ratio, floor = f"{figure.value:.2f}", f"≥ {figure.floor:.2f}"
    return [
        title,
        figure.where or "-",
        number(figure.measured, figure.unit),
        number(figure.anchor, figure.unit),
        ratio,
        floor,
        "met" if figure.met else "NOT MET",
    ]


def summary(figures: list[Figure], stores: tuple[str, ...], ran: list[str]) -> Table:
    """The table of every row, from the figures recorded in this run (`ran`: the benchmarks
    run)."""
    table = Table(
        title="issue 15: the floors, measured in this run",
        columns=["figure", "store", "measured", "raw anchor", "÷ raw", "floor", "verdict"],
    )
    known = {row.figure_id for row in ROWS}
    for row in ROWS:
        mine = [f for f in figures if f.figure_id == row.figure_id]
        table.rows += [_line(f, row.title) for f in mine]
        measured_on = {f.where.split(" ")[0] for f in mine}
        for kind in row.stores:
            if kind in stores and kind not in measured_on:
                missing = (
                    f"not measured by {row.benchmark} yet"
                    if row.benchmark in ran
                    else f"not measured (--only {row.benchmark})"
                )
                table.rows.append([row.title, kind, missing, "", "", "", ""])
    table.rows += [_line(f, f.figure_id) for f in figures if f.figure_id not in known]
    met = sum(1 for f in figures if f.met)
    table.notes.append(
        f"{met} of {len(figures)} measured figures met; ÷ raw: measured over the raw anchor "
        "(the same work by a bare client in the same run), compared with a floor; without an "
        "anchor the measured value must stay under the floor"
    )
    return table
