"""The stored form of an index row (``episodes.index_row``) gives back the row it stored."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from selfmem.records.index_rows import IndexRow, decode_row, encode_row

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # separators included
_ROWS = st.builds(
    IndexRow,
    episode_id=st.just("ep-1"),
    task_type=st.sampled_from(["code_generation", "debugging"]),
    domain=_TEXT,
    language=st.one_of(st.none(), _TEXT.filter(bool)),
    framework=st.one_of(st.none(), _TEXT.filter(bool)),
    tags=st.lists(_TEXT, max_size=3).map(tuple),
    outcome=st.sampled_from(["success", "failure", "partial_success"]),
    reward=st.floats(-2.0, 2.0),
    end_time=st.floats(0.0, 4e9),
    terms=st.lists(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), max_size=20).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(row=_ROWS)
def test_a_stored_row_reads_back_equal(row: IndexRow) -> None:
    assert decode_row("ep-1", encode_row(row)) == row


def test_plain_rows_are_stored_packed_and_rows_with_separators_as_json() -> None:
    row = IndexRow("ep-1", "debugging", "web", "python", None, ("api", "prod"), "success",
                   0.75, 1.5e9, "fix login fix login timeout")  # fmt: skip
    assert not encode_row(row).startswith("[")
    odd = row._replace(tags=("a\x1fb",))
    assert encode_row(odd).startswith("[")
    assert decode_row("ep-1", encode_row(odd)) == odd
    assert decode_row("ep-1", encode_row(row._replace(tags=("",)))).tags == ("",)


def test_rows_written_by_earlier_versions_still_read() -> None:
    """Earlier versions stored every row as JSON (terms as one string)."""
    text = json.dumps(["debugging", "web", None, "flask", ["api"], "failure", 0.1, 12.0,
                       "fix login  timeout"])  # fmt: skip
    row = decode_row("ep-9", text)
    assert row == IndexRow("ep-9", "debugging", "web", None, "flask", ("api",), "failure",
                           0.1, 12.0, "fix login timeout")  # fmt: skip
    assert row.term_list() == ["fix", "login", "timeout"]
