"""Tasks written in any script are found by their words: "Zählbestand" is one term, not
"z" and "hlbestand", and a task in Japanese has terms at all. A store written by a version
that counted ASCII words only is upgraded in place."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from selfmem import SelfLearningMemory, TaskContext
from selfmem.records.index_rows import IndexRow, encode_row, index_terms
from selfmem.storage.libsql_store import LibSQLStore
from selfmem.storage.schema import SCHEMA_VERSION
from selfmem.text.tokens import STOPWORDS, query_terms, tokenize

from .helpers import run_episode

STOCK = "Zählbestand von Lagerplatz A-35 mit dem Systembestand abgleichen"
INVOICE = "Rechnung RE-2025-5438 mit Bestellung PO-4843 abgleichen und verbuchen"
LOGIN = "ログイン画面の認証エラーを修正する"
REPORT = "月次売上レポートを作成する"
OPS = TaskContext(domain="ops")


def test_words_keep_their_letters_in_any_script() -> None:
    assert tokenize("Zählbestand über Straße") == ["zählbestand", "über", "straße"]
    # an accent written as a combining mark stays in its word
    assert tokenize("Ne\u0301e café") == ["née", "café"]
    # a script written without spaces gives overlapping pairs, so shared words meet
    assert tokenize("認証エラー") == ["認証", "証エ", "エラ", "ラー"]
    assert set(query_terms(LOGIN)) & set(query_terms("認証エラーが出る"))
    assert query_terms("猫") == ["猫"]  # one character is a word there


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="ascii"), max_size=80))
def test_ascii_text_gives_the_same_tokens_as_before(text: str) -> None:
    assert tokenize(text) == re.findall(r"[A-Za-z0-9_]+", text.lower())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["über", "Zähl", "abc", "認証エラー", "日", " ", "-", "a_1", "\n"])
    ).map("".join),
    st.integers(1, 12),
)
def test_the_index_counts_the_tokens_of_any_text(text: str, limit: int) -> None:
    words = [t for t in tokenize(text) if t not in STOPWORDS]
    assert list(index_terms(text, limit)) == words[:limit]


def test_a_task_is_found_by_a_word_outside_ascii(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        ids = {
            t: run_episode(memory, t, ["lookup", "post"], context=OPS)
            for t in (STOCK, INVOICE, LOGIN, REPORT)
        }
        found = memory.retrieve_relevant_context("Zählbestand prüfen", {"domain": "ops"})
        assert [s.episode.id for s in found.episodes] == [ids[STOCK]]
        found = memory.retrieve_relevant_context("認証エラーが出る", {"domain": "ops"})
        assert found.episodes[0].episode.id == ids[LOGIN]
        assert ids[REPORT] not in [s.episode.id for s in found.episodes]


def test_a_store_that_counted_ascii_words_only_is_upgraded(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        stock = run_episode(memory, STOCK, ["count"], context=OPS)
        plain = run_episode(memory, "Reconcile bin A-35", ["count"], context=OPS)
    old = LibSQLStore(str(tmp_path / "selfmem.db"))
    (row,) = old._run("SELECT index_row FROM episodes WHERE id = ?", (stock,))
    # what the earlier version stored: "Zählbestand" as "z" and "hlbestand"
    ascii_terms = "z hlbestand lagerplatz 35 mit dem systembestand abgleichen"
    fields = IndexRow("x", "", "", None, None, (), "success", 0.0, 0.0, ascii_terms)
    assert "zählbestand" in row[0]
    old._run("UPDATE episodes SET index_row = ? WHERE id = ?", (encode_row(fields), stock))
    (kept,) = old._run("SELECT index_row FROM episodes WHERE id = ?", (plain,))
    old._run("UPDATE selfmem_schema SET version = ?", (SCHEMA_VERSION - 1,))
    old.close()
    with SelfLearningMemory.open(tmp_path) as memory:
        store = memory._core.store
        assert store.schema_version() == SCHEMA_VERSION
        # the row of the episode whose text holds other letters is rebuilt, the other kept
        assert store._run("SELECT index_row FROM episodes WHERE id = ?", (stock,)) == [(None,)]
        assert store._run("SELECT index_row FROM episodes WHERE id = ?", (plain,)) == [kept]
        found = memory.retrieve_relevant_context("Zählbestand", {"domain": "ops"})
        assert [s.episode.id for s in found.episodes] == [stock]
        (rebuilt,) = store._run("SELECT index_row FROM episodes WHERE id = ?", (stock,))
        assert "zählbestand" in rebuilt[0]  # stored again: the next start reads it as is
