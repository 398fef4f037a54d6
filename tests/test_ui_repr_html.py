"""Notebook views: ``_repr_html_`` of an episode, a retrieval result, counts, and lists of
patterns and heuristics, over a real embedded store. Plain reprs stay as they were."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape

import pytest

from selfmem import Episode, MemoryStats, RetrievalResult
from selfmem.records.html import PatternList, heuristics_html, patterns_html

from .ui_seed import Seeded, seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data = seed(tmp_path_factory.mktemp("repr") / "mem")
    yield data
    data.memory.close()


def test_episode_html_is_the_timeline_with_reward_and_reflection(seeded: Seeded) -> None:
    episode = seeded.memory.get_episode(seeded.failed_ids[0])
    html = episode._repr_html_()
    assert html.startswith("<style>") and '<div class="selfmem-view">' in html
    assert '<table class="timeline">' in html
    assert "<code>run_tests</code>" in html and "<code>edit_file</code>" in html
    assert '<pre class="fail">permission denied</pre>' in html
    assert "120 ms" in html and "<td>40</td>" in html
    assert "quality multiplier" in html and f"{episode.reward.total:.3f}" in html  # type: ignore[union-attr]
    assert "What failed" in html
    assert repr(episode).startswith("Episode(") and "<" not in repr(episode)[:9]


def test_episode_html_escapes_untrusted_text(seeded: Seeded) -> None:
    html = seeded.memory.get_episode(seeded.docs_ids[0])._repr_html_()
    assert "<script>" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_open_episode_has_no_reward_yet() -> None:
    html = Episode(task_description="still running")._repr_html_()
    assert "No steps recorded." in html and "No reward yet" in html and "No reflection yet" in html


def test_retrieval_result_html_shows_signals_and_prompt(seeded: Seeded) -> None:
    result = seeded.memory.retrieve_relevant_context("login test fails", {"domain": "web"})
    assert isinstance(result, RetrievalResult)
    html = result._repr_html_()
    assert "Fix the failing login test" in html
    assert '<span class="signal" title="lexical">lexical' in html
    assert '<pre class="prompt">' in html and "Suggested tool sequence" in html
    assert f"Episodes ({len(result.episodes)})" in html
    assert "RetrievalResult(query='login test fails'" in repr(result)


def test_stats_html(seeded: Seeded) -> None:
    stats = seeded.memory.stats()
    assert isinstance(stats, MemoryStats)
    html = stats._repr_html_()
    assert f"<td>episodes</td><td>{stats.episodes}</td>" in html
    assert "<td>pending learning</td>" in html
    assert repr(stats).startswith("MemoryStats(namespace='default'")


def test_pattern_and_heuristic_lists(seeded: Seeded) -> None:
    patterns = seeded.memory.list_patterns()
    html = PatternList(patterns)._repr_html_()
    assert html == patterns_html(patterns)
    first = patterns[0]
    assert escape(first.describe()) in html
    assert f"{first.confidence:.2f}" in html and "evidence episodes" in html
    linked = patterns_html(patterns, link_episode=lambda i: f"/e/{i}", standalone=False)
    assert f'href="/e/{first.episode_ids[-1]}"' in linked and not linked.startswith("<style>")
    rules = seeded.memory.list_heuristics()
    assert PatternList(rules)._repr_html_() == heuristics_html(rules)
    assert "from patterns" in heuristics_html(rules)
    assert "No patterns." in PatternList()._repr_html_()
    assert "No heuristics." in heuristics_html([])
