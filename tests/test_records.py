"""Crash-safe JSONL: whole lines, torn tails set aside, corrupt lines named."""

from __future__ import annotations

import pytest

from sycobench.errors import DataError
from sycobench.report.load import RUN_SCHEMA
from sycobench.store.jsonl import JsonlWriter, read_frame, read_jsonl, repair_tail


def test_writer_appends_whole_lines(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    with JsonlWriter(path) as w:
        w.write({"a": 1})
    with JsonlWriter(path) as w:
        w.write({"a": 2})
    assert path.read_text() == '{"a":1}\n{"a":2}\n'


def test_torn_last_line_is_ignored_and_set_aside(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    assert [r["a"] for r in read_jsonl(path)] == [1, 2]
    assert repair_tail(path)
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    assert '{"a": 3, "b"' in (tmp_path / "run.jsonl.torn").read_text()
    with JsonlWriter(path) as w:  # appending after a crash starts on a fresh line
        w.write({"a": 4})
    assert [r["a"] for r in read_jsonl(path)] == [1, 2, 4]


def test_corrupt_middle_line_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 3}\n')
    with pytest.raises(DataError, match=r"run\.jsonl:2: corrupt JSON line"):
        list(read_jsonl(path))


def test_polars_reader_skips_torn_tail_and_names_corrupt_line(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"model_id": "m", "prompt_id": "p", "k": 0}\n{"model_id": "m", "pro')
    assert read_frame(path, RUN_SCHEMA).height == 1
    path.write_text('{"model_id": "m", "prompt_id": "p", "k": 0}\n{oops}\n{"model_id": "m"}\n')
    with pytest.raises(DataError, match=":2:"):
        read_frame(path, RUN_SCHEMA)
