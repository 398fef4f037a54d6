"""The dashboard's pages through Starlette's TestClient against a real embedded store (libSQL
file + LMDB) seeded through the public API: every page renders, filters and paging work,
untrusted text stays text, writes and tokens are enforced."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the dashboard needs selfmem[ui]")
pytest.importorskip("jinja2", reason="the dashboard needs selfmem[ui]")

from starlette.testclient import TestClient

from selfmem import SelfLearningMemory
from selfmem.cli import main
from selfmem.ui import build_app

from .ui_seed import Seeded, seed

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data = seed(tmp_path_factory.mktemp("ui") / "mem")
    yield data
    data.memory.close()


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> TestClient:
    return TestClient(build_app(seeded.memory, location=str(seeded.location)), base_url=BASE)


def _rows(html: str, table_id: str) -> list[str]:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", table, re.S)[0 if "<thead>" not in table else 1 :]


@pytest.mark.parametrize("url", ["/", "/patterns", "/patterns?all=1", "/learning", "/ask",
                                 "/health", "/static/style.css"])  # fmt: skip
def test_every_page_renders(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.text
    if url.startswith("/static"):
        assert "selfmem dashboard" in response.text
    else:
        assert "<title>" in response.text and 'href="/static/style.css"' in response.text
        assert "http://" not in response.text.replace("http://www.w3.org/2000/svg", "")  # no CDN


def test_episode_list_filters(client: TestClient, seeded: Seeded) -> None:
    every = _rows(client.get("/").text, "episodes")
    assert len(every) == 22
    failures = client.get("/", params={"outcome": "failure"}).text
    assert len(_rows(failures, "episodes")) == len(seeded.failed_ids) == 4
    assert all(eid in failures for eid in seeded.failed_ids)
    docs = client.get("/", params={"task_type": "documentation"}).text
    assert len(_rows(docs, "episodes")) == 6
    assert len(_rows(client.get("/", params={"domain": "docs"}).text, "episodes")) == 6
    assert "No episodes." in client.get("/", params={"since": "2999-01-01"}).text
    assert len(_rows(client.get("/", params={"until": "2999-01-01"}).text, "episodes")) == 22


def test_namespace_filter_shows_only_that_namespace(client: TestClient, seeded: Seeded) -> None:
    page = client.get("/", params={"ns": "team-b"}).text
    assert "Deploy the billing service" in page and "login test" not in page
    assert f"/episodes/{seeded.other_namespace_id}?ns=team-b" in page
    assert client.get(f"/episodes/{seeded.other_namespace_id}").status_code == 404
    assert client.get(f"/episodes/{seeded.other_namespace_id}?ns=team-b").status_code == 200


def test_full_text_search_ranks_by_retrieval(client: TestClient) -> None:
    page = client.get("/", params={"q": "login test"}).text
    rows = _rows(page, "episodes")
    assert rows and all("login test" in row for row in rows)
    assert "lexical" in page  # the signals behind each score
    only_failed = client.get("/", params={"q": "login test", "outcome": "failure"}).text
    assert all("failure" in row for row in _rows(only_failed, "episodes"))


def test_cursor_paging_visits_every_episode_once(client: TestClient) -> None:
    seen: list[str] = []
    url: str | None = "/?limit=5"
    while url:
        page = client.get(url.replace("&amp;", "&")).text
        seen += re.findall(r'class="episode-link" href="/episodes/([^"?]+)"', page)
        found = re.search(r'id="older" href="([^"]+)"', page)
        url = found.group(1) if found else None
    assert len(seen) == 22 == len(set(seen))


def test_cursor_paging_handles_episodes_that_started_at_the_same_instant(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    same = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    with SelfLearningMemory.open(tmp_path / "m", flush_interval_s=None) as memory:
        for i in range(7):
            memory.start_episode(f"task {i}", start_time=same)
        client = TestClient(build_app(memory), base_url=BASE)
        seen: list[str] = []
        url: str | None = "/?limit=3"
        while url:
            page = client.get(url.replace("&amp;", "&")).text
            seen += re.findall(r'class="episode-link" href="/episodes/([^"?]+)"', page)
            found = re.search(r'id="older" href="([^"]+)"', page)
            url = found.group(1) if found else None
        assert len(seen) == 7 == len(set(seen))


def test_one_episode_shows_timeline_reward_reflection_and_patterns(
    client: TestClient, seeded: Seeded
) -> None:
    eid = seeded.failed_ids[0]
    page = client.get(f"/episodes/{eid}").text
    assert "Timeline" in page and "run_tests" in page and "permission denied" in page
    assert "120 ms" in page and ">40<" in page  # latency and tokens
    assert "path=&#x27;auth.py&#x27;" in page  # arguments, escaped
    assert "efficiency" in page and "quality multiplier" in page
    assert "Reflection" in page and "What failed" in page
    contributed = [p for p in seeded.memory.list_patterns(include_unserved=True, limit=1000)
                   if eid in p.episode_ids]  # fmt: skip
    assert contributed and all(f"/patterns/{p.id}" in page for p in contributed)


def test_pattern_page_links_its_evidence_both_ways(client: TestClient, seeded: Seeded) -> None:
    pattern = next(p for p in seeded.memory.list_patterns() if p.kind.value == "tool_sequence"
                   and "login" in p.describe())  # fmt: skip
    page = client.get(f"/patterns/{pattern.id}").text
    assert "support" in page and "confidence" in page and "effectiveness" in page
    links = re.findall(r'class="evidence-link" href="/episodes/([^"?]+)"', page)
    assert links and set(links) <= set(pattern.episode_ids)
    episode_page = client.get(f"/episodes/{links[0]}").text
    assert f"/patterns/{pattern.id}" in episode_page
    listing = client.get("/patterns").text
    assert f"/patterns/{pattern.id}" in listing and f"/episodes/{links[0]}" in listing
    assert "Heuristics" in listing and "confidence" in listing


def test_the_patterns_list_pages(
    client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    import selfmem.ui.pages

    monkeypatch.setattr(selfmem.ui.pages, "PATTERNS_PAGE", 2)
    every = seeded.memory.list_patterns(include_unserved=True, limit=1000)
    assert len(every) > 2
    seen: list[str] = []
    url: str | None = "/patterns?all=1"
    while url is not None:
        page = client.get(url.replace("&amp;", "&")).text
        shown = _rows(page, "patterns")
        assert 1 <= len(shown) <= 2
        seen += [re.findall(r'href="/patterns/([^"?]+)"', row)[0] for row in shown]
        assert f"{len(seen) - len(shown) + 1}–{len(seen)}" in page
        assert ('id="previous"' in page) == (len(seen) > len(shown))
        found = re.search(r'id="next" href="([^"]+)"', page)
        url = found.group(1) if found else None
    assert seen == [p.id for p in every]  # most effective first, each once
    assert "No patterns here" in client.get("/patterns?all=1&offset=1000").text
    assert client.get("/patterns?offset=-1").status_code == 400


def test_unknown_ids_are_404_and_bad_filters_400(client: TestClient) -> None:
    assert client.get("/episodes/nope").status_code == 404
    assert client.get("/patterns/nope").status_code == 404
    assert client.get("/", params={"outcome": "meh"}).status_code == 400
    assert client.get("/", params={"since": "yesterday"}).status_code == 400
    assert client.get("/", params={"limit": "0"}).status_code == 400
    assert client.get("/", params={"ns": "n" * 500}).status_code == 400


def test_untrusted_text_is_shown_as_text(client: TestClient, seeded: Seeded) -> None:
    for url in ["/", "/?q=widget", f"/episodes/{seeded.docs_ids[0]}", "/patterns",
                "/ask?task=document+widget+api", "/?domain=%3Cscript%3E"]:  # fmt: skip
        page = client.get(url).text
        assert "<script" not in page, url
    page = client.get(f"/episodes/{seeded.docs_ids[0]}").text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_ask_shows_retrieval_recommendations_signals_and_prompt(client: TestClient) -> None:
    page = client.get("/ask", params={"task": "login test fails", "domain": "web",
                                      "language": "python", "tags": "auth",
                                      "task_type": "debugging"}).text  # fmt: skip
    assert "retrieve_relevant_context" in page and "recommend_patterns" in page
    assert "Fix the failing login test" in page
    assert "Prompt text" in page and "Suggested tool sequence: run_tests -&gt; edit_file" in page
    assert "run_tests -&gt; edit_file -&gt; run_tests" in page
    assert 'class="signal"' in page and "BM25" in page  # signals, and what they mean
    assert "No pattern applies." not in page


def test_learning_charts_are_inline_svg(client: TestClient) -> None:
    page = client.get("/learning").text
    assert page.count("<svg") == 3
    assert "Success rate per task family" in page and "debugging" in page
    assert "Patterns discovered" in page and "<polyline" in page


def test_learning_charts_are_reused_for_a_while_then_recomputed(seeded: Seeded) -> None:
    from selfmem import TaskOutcome

    other = seeded.memory.scoped("charts")

    def record(task_type: str) -> None:
        eid = other.start_episode(f"a {task_type} task", task_type=task_type)
        other.log_step(eid, tool="look")
        other.complete_episode(eid, TaskOutcome.success())

    record("testing")
    cached = TestClient(build_app(seeded.memory), base_url=BASE)
    fresh = TestClient(build_app(seeded.memory, charts_max_age_s=0), base_url=BASE)
    first = cached.get("/learning?ns=charts").text
    assert "testing" in first and "deployment" not in first and 'id="computed"' in first
    record("deployment")
    assert "deployment" not in cached.get("/learning?ns=charts").text  # within 30 s: reused
    assert "deployment" in fresh.get("/learning?ns=charts").text


def test_health_shows_counts_size_queue_failures_and_latency(
    client: TestClient, seeded: Seeded
) -> None:
    client.get("/ask", params={"task": "login"})
    page = client.get("/health").text
    stats = seeded.memory.stats()
    assert f"<th>episodes</th><td>{stats.episodes}</td>" in page
    assert "bytes" in page and "learning queue depth" in page and "learning failures" in page
    lookups = seeded.memory.cache_lookups()
    assert f"{lookups.hits} hits, {lookups.misses} misses" in page and "hit rate" in page
    assert "p95" in page and " ms" in page
    assert str(seeded.location) in page


def test_health_of_a_fresh_process_has_no_latency_yet(seeded: Seeded) -> None:
    client = TestClient(build_app(seeded.memory), base_url=BASE)
    page = client.get("/health").text
    assert "No retrievals yet" in page and "unknown" in page


def test_writes_are_refused_without_allow_writes(client: TestClient, seeded: Seeded) -> None:
    eid = seeded.login_ids[0]
    assert "delete this episode" not in client.get(f"/episodes/{eid}").text
    assert client.post(f"/episodes/{eid}/delete").status_code == 403
    pid = seeded.memory.list_patterns()[0].id
    assert client.post(f"/episodes/{eid}/feedback", data={"pattern_id": pid}).status_code == 403
    assert client.put(f"/episodes/{eid}/delete").status_code == 405
    assert seeded.memory.get_episode(eid).id == eid


def test_writes_with_allow_writes(tmp_path: Path) -> None:
    data = seed(tmp_path / "mem")
    try:
        client = TestClient(build_app(data.memory, allow_writes=True), base_url=BASE)
        eid = data.login_ids[0]
        page = client.get(f"/episodes/{eid}").text
        assert "delete this episode" in page and "record feedback" in page
        pattern = data.memory.list_patterns()[0]
        before = pattern.feedback_uses
        done = client.post(f"/episodes/{eid}/feedback", data={"pattern_id": pattern.id},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == f"/episodes/{eid}"
        assert data.memory.get_pattern(pattern.id).feedback_uses == before + 1
        assert client.post(f"/episodes/{eid}/feedback", data={}).status_code == 400
        # a form posted from another site is refused
        evil = client.post(f"/episodes/{eid}/delete", headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        gone = client.post(f"/episodes/{eid}/delete", follow_redirects=False,
                           headers={"Origin": BASE})  # fmt: skip
        assert gone.status_code == 303
        assert client.get(f"/episodes/{eid}").status_code == 404
        assert eid not in client.get("/").text
    finally:
        data.memory.close()


def test_token_is_required_when_configured(seeded: Seeded) -> None:
    app = build_app(seeded.memory, token="s3cret", hosts=None)
    client = TestClient(app, base_url="http://dash.example")
    refused = client.get("/")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/?token=wrong").status_code == 401
    opened = client.get("/health?token=s3cret", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/health"
    assert "httponly" in opened.headers["set-cookie"].lower()
    assert client.get("/health").status_code == 200  # the cookie now carries it


def test_loopback_dashboard_refuses_other_host_headers(seeded: Seeded) -> None:
    client = TestClient(build_app(seeded.memory), base_url="http://attacker.example")
    assert client.get("/").status_code == 421


def test_cli_refuses_a_public_host_without_a_token(
    seeded: Seeded, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SELFMEM_UI_TOKEN", raising=False)
    code = main(["--path", str(seeded.location), "ui", "--host", "0.0.0.0"])
    assert code == 2 and "needs a bearer token" in capsys.readouterr().err


def test_cli_sets_how_long_the_learning_charts_are_reused() -> None:
    from selfmem.cli.app import build_parser

    assert build_parser().parse_args(["ui"]).charts_max_age == 30.0
    assert build_parser().parse_args(["ui", "--charts-max-age", "0"]).charts_max_age == 0.0


def test_serve_refuses_a_public_host_without_a_token(seeded: Seeded) -> None:
    from selfmem.errors import InvalidInputError
    from selfmem.ui import serve

    with pytest.raises(InvalidInputError, match="needs a bearer token"):
        serve(seeded.memory, host="0.0.0.0")
