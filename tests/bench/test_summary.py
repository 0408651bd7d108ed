"""The issue-15 summary `make bench` prints: verdicts and the rows nobody measured."""

from __future__ import annotations

from tests.bench.common import Figure
from tests.bench.summary import ROWS, summary


def test_a_ratio_is_judged_against_its_anchor_and_a_ceiling_against_its_value() -> None:
    assert Figure("outbox_relay", 5_000, 10_000, 0.5, "ev/s").met
    assert not Figure("outbox_relay", 4_999, 10_000, 0.5, "ev/s").met
    assert Figure("projection_rebuild", 119.9, None, 120, "s").met
    assert not Figure("projection_rebuild", 120, None, 120, "s").met
    assert not Figure("coverage_read_p99", float("nan"), None, 20, "ms").met
    assert not Figure("outbox_relay", 1, 0, 0.5, "ev/s").met


def test_every_row_is_printed_measured_or_not() -> None:
    figures = [
        Figure("outbox_relay", 6_000, 10_000, 0.5, "ev/s", "sqlite"),
        Figure("outbox_relay", 4_000, 10_000, 0.5, "ev/s", "postgresql"),
        Figure("extra_figure", 1, None, 2, "s", "sqlite"),
    ]
    table = summary(figures, ("sqlite", "postgresql"), ["outbox_relay", "coverage_projection"])
    relay = [row for row in table.rows if row[0].startswith("outbox relay")]
    assert [(row[1], row[4], row[6]) for row in relay] == [
        ("sqlite", "0.60", "met"),
        ("postgresql", "0.40", "NOT MET"),
    ]
    unmeasured = {row[0] for row in table.rows if row[2].startswith("not measured")}
    assert unmeasured == {row.title for row in ROWS} - {relay[0][0]}
    by_title = {(row[0], row[1]): row[2] for row in table.rows}
    assert by_title[("import via API ÷ raw executemany", "sqlite")] == (
        "not measured (--only registry_import)"
    )
    assert by_title[("registry commit → coverage visible p99", "sqlite")] == (
        "not measured (--only coverage_freshness)"
    )
    assert by_title[("peak RSS of a service process", "sqlite")] == (
        "not measured by coverage_projection yet"
    )
    assert ("rebuild of the province from the stream", "postgresql") not in by_title
    assert table.rows[-1][0] == "extra_figure"
    assert "2 of 3 measured figures met" in table.render()
