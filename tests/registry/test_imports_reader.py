"""An import's rows read in a process of their own come in the same batches as in a thread."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from services.registry.domain.imports import NewFile, RowBatch
from services.registry.file_forms import draft_of
from services.registry.import_reader import (
    FirstInThread,
    JobRows,
    ProcessRows,
    ReaderFailed,
    RowSource,
    ThreadRows,
    open_rows,
)
from services.registry.service.imports import write_rows
from tests.registry.imports_data import MARKET_HEADER, credit_code, csv_bytes, market_row

SOURCE = "market_supervision"
SCOPE = "140212"
ELIGIBLE_AT = 3


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A stored file of 40 rows: valid ones, a duplicate, a bad credit code, a blank row, a
    township written in words (the reader process loads the region tree for it)."""
    rows = [market_row(n) for n in range(36)]
    rows += [
        market_row(3),  # a duplicate of an earlier row
        market_row(36, 统一社会信用代码=credit_code(36)[:17] + "0"),
        [""] * len(MARKET_HEADER),
        market_row(37, 行政区划代码="新荣区"),
    ]
    upload = tmp_path / "upload.csv"
    upload.write_bytes(csv_bytes(MARKET_HEADER, rows))
    out = tmp_path / "rows.jsonl"
    write_rows(upload, "upload.csv", SOURCE, out)
    return out


def undrafted(batches: list[RowBatch]) -> list[RowBatch]:
    """The batches without their records' drafts, each draft checked to be the new file its
    record registers (its id and time are the reader's own)."""
    out = []
    for batch in batches:
        records = []
        for record in batch.records:
            draft = record.draft
            assert draft is not None
            bare = replace(record, draft=None)
            new = NewFile(bare, draft.id, draft.at).organization()
            assert draft == draft_of(new, ELIGIBLE_AT)
            records.append(bare)
        out.append(replace(batch, records=records))
    return out


async def batches(rows: RowSource) -> list[RowBatch]:
    try:
        out = []
        while (batch := await rows.next_batch()).consumed:
            out.append(batch)
        return out
    finally:
        await rows.close()


@pytest.mark.parametrize("skip", [0, 7])
async def test_a_process_reads_the_same_batches_as_a_thread(stored: Path, skip: int) -> None:
    rows = JobRows(stored, SOURCE, SCOPE, ELIGIBLE_AT, chunk_rows=6)
    in_thread = await open_rows(rows, skip=skip, left=40 - skip)
    in_process = await open_rows(rows, skip=skip, left=40 - skip, process_min_rows=1)
    assert isinstance(in_thread, ThreadRows)
    assert isinstance(in_process, FirstInThread)  # the first batch in a thread, then the process
    expected = undrafted(await batches(in_thread))
    assert undrafted(await batches(in_process)) == expected
    errors = [e for b in expected for e in b.errors]
    assert skip or any("duplicate of row" in e.reason for e in errors)
    assert sum(b.consumed for b in expected) == 40 - skip


async def test_a_reader_process_closed_mid_file_is_stopped(stored: Path) -> None:
    rows = ProcessRows.open(JobRows(stored, SOURCE, SCOPE, ELIGIBLE_AT, chunk_rows=5), 0)
    assert (await rows.next_batch()).consumed == 5
    await rows.close()
    assert rows.process._closed  # type: ignore[attr-defined]  # joined and closed


async def test_rows_closed_before_their_first_batch_stop_the_reader_process(stored: Path) -> None:
    rows = FirstInThread.open(JobRows(stored, SOURCE, SCOPE, ELIGIBLE_AT, chunk_rows=5), 0)
    await rows.close()
    assert rows.rest.process._closed  # type: ignore[attr-defined]  # joined and closed


async def test_a_reader_process_that_cannot_read_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "rows.jsonl"
    broken.write_text('{"format": "rows", "fields": {"name": [0]}}\n[2, ["a"]]\nnot json\n')
    rows = ProcessRows.open(JobRows(broken, SOURCE, SCOPE, ELIGIBLE_AT, chunk_rows=10), 0)
    with pytest.raises(ReaderFailed, match="JSONDecodeError"):
        await rows.next_batch()
    await rows.close()


async def test_rows_read_in_a_thread_when_no_process_is_wanted(stored: Path) -> None:
    to_read = JobRows(stored, SOURCE, SCOPE, ELIGIBLE_AT, chunk_rows=6)
    rows = await open_rows(to_read, skip=0, left=40, process_min_rows=None)
    assert isinstance(rows, ThreadRows)
    assert sum(b.consumed for b in await batches(rows)) == 40
