"""The suite's printed report: faults and recovery times, the checks, the verdict."""

from __future__ import annotations

from collections.abc import Sequence

from tests.bench.common import Table, median
from tools.chaos.suite import Result


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The benchmarks' table layout (names left, figures right)."""
    return Table(title, list(columns), [list(row) for row in rows]).render()


def _seconds(value: float | None) -> str:
    return "NOT RECOVERED" if value is None else f"{value:.1f}"


def render(result: Result) -> str:
    options = result.options
    verdict = result.verdict
    ack = "service default" if options.ack_wait is None else f"{options.ack_wait:g} s"
    out = [
        f"make chaos: {options.events:,} events planned, store {options.store}, "
        f"ack wait {ack}, {result.seconds:.0f} s in all",
        "",
        _table(
            "Faults (recovery: from the fault until every service is ready and every consumer "
            "has acknowledged all it had been delivered before it)",
            ["fault", "mid-batch", "recovered (s)"],
            [[o.name, o.note, _seconds(o.recovered_after)] for o in result.outcomes],
        ),
        "",
    ]
    kinds: dict[str, list[float | None]] = {}
    for fault in result.faults:
        kinds.setdefault(fault.kind, []).extend(o.recovered_after for o in fault.outcomes)
    rows = []
    for kind, times in kinds.items():
        done = [t for t in times if t is not None]
        rows.append(
            [
                kind,
                str(len(times)),
                str(len(times) - len(done)),
                f"{median(done):.1f}" if done else "-",
                f"{max(done):.1f}" if done else "-",
            ]
        )
    out += [
        _table(
            "Recovery per kind of fault (s)",
            ["fault", "injected", "not recovered", "p50", "max"],
            rows,
        ),
        "",
        _table(
            "Checks (expected: computed from the registry's store and the load's answers)",
            ["check", "expected", "found", "lost", "doubled", "note"],
            [
                [c.name, f"{c.expected:,}", f"{c.found:,}", str(c.lost), str(c.doubled), c.note]
                for c in verdict.checks
            ],
        ),
        "",
    ]
    if verdict.dead_letters:
        out.append("Dead letters:")
        out += [
            f"  {d['service']}/{d['consumer']} {d['event_type']}: {d['reason']!r}"
            for d in verdict.dead_letters[:20]
        ]
        out.append("")
    answers = ", ".join(f"{k}: {v:,}" for k, v in sorted(result.answers.items()))
    out += [
        f"answers the load got from the services: {answers}",
        *result.notes,
        "",
        _table(
            "Verdict",
            [
                "faults injected",
                "events checked (an import's files one by one)",
                "deliveries checked",
                "lost",
                "doubled",
                "dead letters (without reason)",
                "recovery p50 / max (s)",
            ],
            [
                [
                    str(len(result.outcomes)),
                    f"{verdict.events:,} ({verdict.announced:,})",
                    f"{verdict.deliveries:,}",
                    str(verdict.lost),
                    str(verdict.doubled),
                    f"{len(verdict.dead_letters)} ({verdict.dead_letters_without_reason})",
                    _overall(result),
                ]
            ],
        ),
        "PASSED" if result.ok else f"FAILED (kept {result.folder} with the logs)",
    ]
    return "\n".join(out)


def _overall(result: Result) -> str:
    done = [o.recovered_after for o in result.outcomes if o.recovered_after is not None]
    if not done:
        return "-"
    return f"{median(done):.1f} / {max(done):.1f}"
