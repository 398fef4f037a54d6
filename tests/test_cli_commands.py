"""Every ``selfmem`` command, for people and with ``--json``, including bad input."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from selfmem import SelfLearningMemory
from selfmem.cli import main
from selfmem.cli.app import build_parser
from selfmem.cli.demo import run_demo
from selfmem.cli.output import render_table
from selfmem.cli.progress import Progress

from .helpers import run_episode

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def run(store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run("episode", "list")`` -> (exit code, stdout, stderr) against the temp store."""
    for name in ("SELFMEM_PATH", "SELFMEM_NAMESPACE", "SELFMEM_DATABASE_URL", "TURSO_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a TTY: nothing asks

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["--path", str(store), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def as_json(run: Run, *args: str, stdin: str | None = None) -> Any:
    code, out, err = run(*args, "--json", stdin=stdin)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def demo_store(store: Path) -> Path:
    with SelfLearningMemory.open(
        store, namespace="demo", flush_interval_s=None, learn_inline=True
    ) as memory:
        run_demo(memory, echo=lambda _: None)
    return store


# -- recording from a shell -----------------------------------------------------------------


def test_shell_driven_episode(run: Run) -> None:
    code, out, _ = run("episode", "start", "Fix the flaky test", "--domain", "ci", "--tag",
                       "Flaky", "--task-type", "debugging", "--metadata", '{"pr": 7}')  # fmt: skip
    assert code == 0
    eid = out.strip()
    code, out, _ = run("episode", "log-step", eid, "--tool", "pytest", "--failed",
                       "--observation-file", "-", stdin="1 failed\n")  # fmt: skip
    assert (code, out.strip()) == (0, "step 1 logged (pytest, failed)")
    logged = as_json(run, "episode", "log-step", eid, "--tool", "edit_file",
                     "--parameters", '{"path": "a.py"}', "--observation", "saved")  # fmt: skip
    assert logged == {"episode_id": eid, "step_number": 2, "success": True, "truncated": []}
    code, out, _ = run("episode", "complete", eid, "--status", "partial", "--verdict", "half",
                       "--done", "a", "--not-done", "b")  # fmt: skip
    assert code == 0 and "partial_success: half" in out
    shown = as_json(run, "episode", "show", eid)
    assert shown["outcome"]["completed"] == ["a"] and shown["context"]["tags"] == ["flaky"]
    assert [s["observation"] for s in shown["steps"]] == ["1 failed\n", "saved"]
    assert shown["metadata"]["pr"] == 7
    code, _, err = run("episode", "complete", eid, "--status", "success")
    assert code == 1 and "already complete" in err


def test_lifecycle_input_errors(run: Run, tmp_path: Path) -> None:
    eid = run("episode", "start", "x")[1].strip()
    code, _, err = run("episode", "log-step", eid, "--tool", "t", "--parameters", "[1]")
    assert code == 2 and "--parameters must be a JSON object" in err
    code, _, err = run("episode", "log-step", eid, "--tool", "t", "--parameters", "{nope")
    assert code == 2 and "not valid JSON" in err
    code, _, err = run("episode", "log-step", eid, "--tool", "t",
                       "--observation-file", str(tmp_path / "missing.txt"))  # fmt: skip
    assert code == 1 and "cannot read" in err
    code, _, err = run("episode", "log-step", "no-such-id", "--tool", "t")
    assert code == 3 and "not found" in err
    code, _, err = run("episode", "complete", eid, "--status", "failure")
    assert code == 2 and "--reason" in err
    code, _, err = run("episode", "start", " ")
    assert code == 2 and "task_description" in err
    code, _, err = run("episode", "start", "x", "--tag", "t" * 65)
    assert code == 2 and "over the limit" in err
    with pytest.raises(SystemExit) as usage:
        run("episode", "complete", eid, "--status", "done")
    assert usage.value.code == 2


# -- reading episodes -----------------------------------------------------------------------


def test_list_show_search(run: Run, demo_store: Path) -> None:
    code, out, _ = run("--namespace", "demo", "episode", "list", "--limit", "3")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["id", "started", "type"]
    assert len(out.splitlines()) == 2 + 3
    listed = as_json(run, "--namespace", "demo", "episode", "list", "--outcome", "failure")
    assert len(listed) == 3 and all(e["outcome"]["status"] == "failure" for e in listed)
    assert as_json(run, "--namespace", "demo", "episode", "list", "--open") == []
    code, _, err = run("--namespace", "demo", "episode", "list", "--offset", "-1")
    assert code == 2 and "offset" in err

    eid = listed[0]["id"]
    code, out, _ = run("--namespace", "demo", "episode", "show", eid)
    assert code == 0 and "observation / error" in out and "what failed:" in out
    code, out, _ = run("--namespace", "demo", "episode", "show", eid, "--no-steps")
    assert "observation / error" not in out
    code, _, err = run("--namespace", "demo", "episode", "show", "missing")
    assert code == 3 and "'missing' not found" in err

    query = ("--namespace", "demo", "episode", "search", "deploy the API to staging")
    found = as_json(run, *query, "--domain", "web", "--limit", "3")
    assert len(found["episodes"]) == 3 and found["rendered"].startswith("Relevant past")
    assert found["episodes"][0]["score"] >= found["episodes"][-1]["score"]
    code, out, _ = run(*query, "--render")
    assert "Suggested tool sequence: build_image -> run_migrations -> deploy" in out
    code, out, _ = run(*query, "--success-only")
    assert code == 0 and "failure" not in out and out.splitlines()[0].startswith("score")
    code, _, err = run("--namespace", "demo", "episode", "search", "zzzqqq")
    assert code == 0 and "no matches" in err


def test_delete(run: Run, demo_store: Path) -> None:
    ids = [e["id"] for e in as_json(run, "--namespace", "demo", "episode", "list")][:2]
    code, out, err = run("--namespace", "demo", "episode", "delete", ids[0], "missing")
    assert code == 3 and f"deleted {ids[0]}" in out and "'missing' not found" in err
    result = as_json(run, "--namespace", "demo", "episode", "delete", "--yes", ids[1])
    assert result == {"deleted": [ids[1]], "not_found": []}
    assert as_json(run, "--namespace", "demo", "stats")["episodes"] == 7


def test_delete_asks_on_a_terminal(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    eid = run("episode", "start", "keep me")[1].strip()

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, _, err = run("episode", "delete", eid)
    assert code == 0 and "nothing deleted" in err
    assert as_json(run, "stats")["episodes"] == 1


# -- learning -------------------------------------------------------------------------------


def test_recommend_shows_how_far_failed_runs_got_unless_told_not_to(
    run: Run, store: Path
) -> None:
    with SelfLearningMemory.open(store, flush_interval_s=None, learn_inline=True) as memory:
        for module in ("parser", "invoice", "session"):
            run_episode(memory, f"Fix the failing {module} unit test",
                        ["run_pytest", "read_file", "run_linter"], fail_at=2,
                        success=False)  # fmt: skip
    task = "Fix the failing scheduler unit test"
    assert as_json(run, "recommend", task, "--no-partial") == []
    for asked in ((), ("--include-partial",)):
        advice = as_json(run, "recommend", task, *asked)
        assert advice[0]["pattern"]["tools"] == ["run_pytest", "read_file"]
        assert advice[0]["signals"]["partial"] == 1.0
    code, out, _ = run("recommend", task)
    assert code == 0 and "as far as the most similar runs got" in out


def test_patterns_heuristics_recommend_relearn(run: Run, demo_store: Path) -> None:
    ns = ("--namespace", "demo")
    patterns = as_json(run, *ns, "pattern", "list")
    assert patterns and all("description" in p and "confidence" in p for p in patterns)
    sequences = as_json(run, *ns, "pattern", "list", "--kind", "tool_sequence", "--all")
    assert {p["kind"] for p in sequences} == {"tool_sequence"}
    code, out, _ = run(*ns, "pattern", "list", "--limit", "1")
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run(*ns, "pattern", "show", patterns[0]["id"])
    assert code == 0 and patterns[0]["description"] in out
    assert as_json(run, *ns, "pattern", "show", patterns[0]["id"])["id"] == patterns[0]["id"]
    code, _, err = run(*ns, "pattern", "show", "nope")
    assert code == 3 and "pattern 'nope' not found" in err

    heuristics = as_json(run, *ns, "heuristic", "list")
    assert heuristics and heuristics[0]["condition"]
    code, out, _ = run(*ns, "heuristic", "list")
    assert "rule" in out.splitlines()[0]

    advice = as_json(run, *ns, "recommend", "Deploy the payments API to staging", "--domain", "web")
    assert advice and advice[0]["heuristic"]["action"] and advice[0]["score"] > 0
    code, out, _ = run(*ns, "recommend", "Deploy the payments API to staging")
    assert code == 0 and "run_migrations" in out
    code, _, err = run(*ns, "recommend", "bake bread")
    assert code == 0 and "nothing learned applies" in err

    relearned = as_json(run, *ns, "relearn")
    assert relearned["episodes"] == 9 and relearned["patterns"] >= len(patterns)
    assert run(*ns, "relearn")[1].startswith("relearned from 9 episodes")


def test_stats_and_global_json_flag(run: Run, demo_store: Path) -> None:
    assert as_json(run, "--namespace", "demo", "stats")["episodes"] == 9
    code, out, _ = run("--json", "--namespace", "demo", "stats")
    assert code == 0 and json.loads(out)["successes"] == 6
    code, out, _ = run("--namespace", "demo", "stats")
    assert out.splitlines()[1] == "episodes           9"


def test_store_and_namespace_from_the_environment(
    demo_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SELFMEM_PATH", str(demo_store))
    monkeypatch.setenv("SELFMEM_NAMESPACE", "demo")
    assert main(["stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 9
    assert main(["--namespace", "other", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 0


# -- export / import ------------------------------------------------------------------------


def test_export_import_round_trip_is_exact(run: Run, demo_store: Path, tmp_path: Path) -> None:
    ns = ("--namespace", "demo")
    open_id = run(*ns, "episode", "start", "still running")[1].strip()
    run(*ns, "episode", "log-step", open_id, "--tool", "probe", "--observation", "x")
    dump = tmp_path / "episodes.jsonl"
    code, out, _ = run(*ns, "export", str(dump))
    assert code == 0 and "exported 10 episodes" in out
    assert not (tmp_path / "episodes.jsonl.partial").exists()
    lines = dump.read_text().splitlines()
    assert len(lines) == 10

    target = tmp_path / "copy"
    code, out, _ = run("--path", str(target), "--namespace", "demo", "import", str(dump))
    assert code == 0 and "imported 10 episodes" in out
    with (
        SelfLearningMemory.open(demo_store, namespace="demo") as before,
        SelfLearningMemory.open(target, namespace="demo") as after,
    ):
        for line in lines:
            eid = json.loads(line)["id"]
            assert after.get_episode(eid) == before.get_episode(eid)
        assert after.stats().patterns == before.stats().patterns > 0
        assert after.stats().open_episodes == 1
        hits = after.retrieve_relevant_context("deploy the API to staging").episodes
        assert hits  # searchable after import
    code, out, _ = run("--path", str(target), "--namespace", "demo", "export", "--completed-only")
    assert code == 0
    assert sorted(out.splitlines()) == sorted(line for line in lines if open_id not in line)


def test_export_to_stdout_and_import_from_stdin(run: Run, demo_store: Path, tmp_path: Path) -> None:
    code, out, err = run("--namespace", "demo", "export")
    assert code == 0 and len(out.splitlines()) == 9 and "exported 9" in err
    fresh = ("--path", str(tmp_path / "fresh"))
    result = as_json(run, *fresh, "import", "-", stdin=out)
    assert result["imported"] == 9 and result["namespace"] == "default"
    assert result["relearned"] == 9
    assert run(*fresh, "export")[1] == out.replace('"namespace":"demo"', '"namespace":"default"')


def _bad_file(path: Path, good: list[str]) -> Path:
    twice = json.loads(good[3])
    twice["steps"][1]["step_number"] = twice["steps"][0]["step_number"]
    lines = [good[0], "{not json", good[1], "", json.dumps({"id": "x"}), good[0], good[2],
             json.dumps(twice)]  # fmt: skip
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"task_description": "\xff"}\n')
    return path


def test_import_rejects_a_file_with_bad_lines(run: Run, demo_store: Path, tmp_path: Path) -> None:
    good = run("--namespace", "demo", "export")[1].splitlines()
    bad = _bad_file(tmp_path / "bad.jsonl", good)
    target = ("--path", str(tmp_path / "target"))
    code, _, err = run(*target, "import", str(bad))
    assert code == 2 and "nothing was imported" in err
    assert "line 2: not a valid episode" in err
    assert "line 5: not a valid episode: task_description: Field required" in err
    assert "line 6: duplicate id" in err and "first on line 1" in err
    assert "line 8: two steps have the same step_number" in err
    assert "line 9: not a valid episode: Invalid JSON" in err  # not UTF-8
    assert "line 4" not in err  # blank lines are ignored
    assert as_json(run, *target, "stats")["episodes"] == 0  # nothing half-imported

    result = as_json(run, *target, "import", str(bad), "--skip-bad")
    assert result["imported"] == 3 and result["skipped"] == {"bad": 5, "existing": 0}
    assert as_json(run, *target, "stats")["episodes"] == 3

    again = as_json(run, *target, "import", str(bad), "--skip-bad", "--skip-existing")
    assert again["imported"] == 0 and again["skipped"] == {"bad": 5, "existing": 3}
    code, _, err = run(*target, "import", str(tmp_path / "missing.jsonl"))
    assert code == 1 and "no such file" in err


def test_import_reports_existing_ids_and_can_skip_them(
    run: Run, demo_store: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "all.jsonl"
    run("--namespace", "demo", "export", str(dump))
    code, _, err = run("--namespace", "demo", "import", str(dump))
    assert code == 2 and "line 1: an episode with this id exists already" in err
    result = as_json(run, "--namespace", "demo", "import", str(dump), "--skip-existing")
    assert result["imported"] == 0 and result["skipped"]["existing"] == 9


def test_a_failed_write_rolls_the_import_back(run: Run, demo_store: Path, tmp_path: Path) -> None:
    dump = tmp_path / "all.jsonl"
    run("--namespace", "demo", "export", str(dump))
    # another namespace already holds these ids: the store refuses the first write
    lines = dump.read_text().splitlines()
    fresh = json.loads(lines[0]) | {"id": "brand-new-id"}
    dump.write_text("\n".join([json.dumps(fresh), *lines]) + "\n")
    code, _, err = run("--namespace", "other", "import", str(dump))
    assert code == 1 and "already exists" in err
    assert as_json(run, "--namespace", "other", "stats")["episodes"] == 0


# -- backup / restore -----------------------------------------------------------------------


def test_backup_and_restore(run: Run, demo_store: Path, tmp_path: Path) -> None:
    ns = ("--namespace", "demo")
    snapshot = tmp_path / "snapshot.db"
    backed = as_json(run, *ns, "backup", str(snapshot))
    assert backed["episodes"] == 9 and snapshot.is_file()
    code, _, err = run(*ns, "backup", str(snapshot))
    assert code == 1 and "--force" in err
    assert run(*ns, "backup", str(snapshot), "--force")[0] == 0

    victim = as_json(run, *ns, "episode", "list")[0]["id"]
    assert run(*ns, "episode", "delete", victim)[0] == 0
    code, out, _ = run(*ns, "restore", str(snapshot))
    assert code == 0 and "restored from" in out and "9 episodes" in out
    assert as_json(run, *ns, "episode", "show", victim)["id"] == victim
    assert as_json(run, *ns, "stats")["episodes"] == 9

    elsewhere = tmp_path / "new-store"
    assert run("--path", str(elsewhere), "--namespace", "demo", "restore", str(snapshot))[0] == 0
    with SelfLearningMemory.open(elsewhere, namespace="demo") as memory:
        assert memory.stats().episodes == 9


def test_backup_and_restore_errors(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run("backup", str(tmp_path / "b.db"))
    assert code == 1 and "no selfmem database" in err
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    code, _, err = run("restore", str(junk))
    assert code == 1 and "not a selfmem database" in err
    code, _, err = run("restore", str(tmp_path / "missing.db"))
    assert code == 1 and "no such backup file" in err
    with pytest.raises(SystemExit):  # --path and --url exclude each other
        run("--url", "http://127.0.0.1:9", "stats")
    monkeypatch.setenv("SELFMEM_DATABASE_URL", "http://127.0.0.1:9")
    assert main(["restore", str(junk)]) == 1
    assert "works on a local store" in capsys.readouterr().err


# -- serve-mcp, demo, and the pieces ----------------------------------------------------------


def test_serve_mcp_names_the_extra_when_mcp_is_missing(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "selfmem.mcp" or m.startswith("selfmem.mcp.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mcp", None)
    code, _, err = run("serve-mcp")
    assert code == 1 and "pip install 'selfmem[mcp]'" in err


def test_serve_mcp_option_errors(run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    code, _, err = run("serve-mcp", "--transport", "http", "--token-file", str(empty))
    assert code == 2 and "empty" in err
    code, _, err = run("serve-mcp", "--token-file", str(tmp_path / "none"))
    assert code == 1 and "cannot read" in err


def test_serve_mcp_wires_options_to_the_transport(
    run: Run, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import selfmem.mcp

    served: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(selfmem.mcp, "run_stdio", lambda server: served.append((server, {})))
    monkeypatch.setattr(
        selfmem.mcp, "run_http", lambda server, **options: served.append((server, options))
    )
    monkeypatch.setenv("SELFMEM_MCP_TOKEN", "from-env")
    code, _, err = run("serve-mcp", "--read-only")  # nothing to read: no store is created
    assert code == 1 and "no selfmem store at" in err and not store.exists()
    assert run("episode", "start", "a task")[0] == 0
    assert run("serve-mcp", "--read-only")[0] == 0
    assert run("serve-mcp", "--transport", "http", "--port", "9999", "--http-path", "/m")[0] == 0
    (stdio, _), (http, options) = served
    assert len(stdio._tool_manager.list_tools()) == 7 and len(http._tool_manager.list_tools()) == 11
    assert options == {"host": "127.0.0.1", "port": 9999, "path": "/m", "token": "from-env",
                       "log_level": "warning"}  # fmt: skip


def test_serve_mcp_closes_the_memory_on_sigterm(
    run: Run, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    import selfmem.mcp

    eid = run("episode", "start", "open task")[1].strip()

    def serve_until_terminated(server: Any) -> None:
        step = {"episode_id": eid, "tool": "buffered"}  # buffered: no flusher, far from 512
        anyio.run(server.call_tool, "log_step", step)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises SystemExit(0) long before this ends

    monkeypatch.setenv("SELFMEM_FLUSH_INTERVAL", "0")
    monkeypatch.setattr(selfmem.mcp, "run_stdio", serve_until_terminated)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        run("serve-mcp")
    assert stopped.value.code == 0
    assert signal.getsignal(signal.SIGTERM) is before  # restored
    steps = as_json(run, "episode", "show", eid)["steps"]
    assert [s["tool"] for s in steps] == ["buffered"]  # written when the memory closed


def test_importing_selfmem_never_imports_mcp() -> None:
    check = (
        "import sys, selfmem, selfmem.cli.app\n"
        "selfmem.cli.app.build_parser().parse_args(['serve-mcp', '--read-only'])\n"
        "print('mcp' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_client_configurations_in_the_docs_are_valid() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "mcp.md"
    blocks = re.findall(r"```json\n(.*?)```", docs.read_text(), re.DOTALL)
    assert len(blocks) == 3
    for block in blocks:
        server = json.loads(block)["mcpServers"]["selfmem"]
        if "url" in server:
            assert server["url"].endswith("/mcp")
            continue
        args = server["args"]
        args = args[2:] if args[:2] == ["-m", "selfmem"] else args
        assert build_parser().parse_args(args).command == "serve-mcp"


def test_table_and_progress() -> None:
    table = render_table(("id", "text"), [("a", "x" * 80), ("bb", None)]).splitlines()
    assert table[0] == "id  text" and table[1] == "--  ----"
    assert table[2] == "a   " + "x" * 80 and table[3] == "bb  -"

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    with Progress("export", 4, stream=tty) as bar:
        for _ in range(4):
            bar.advance()
    assert tty.getvalue().endswith("export [" + "#" * 30 + "] 100% 4/4\n")
    piped = io.StringIO()
    with Progress("export", 4, stream=piped) as bar:
        bar.update(2)
    assert piped.getvalue() == ""
    assert Progress("checking", enabled=False).render() == "checking: 0"


def test_reembed_embeds_every_episode_with_the_minilm_model(run: Run, demo_store: Path) -> None:
    ns = ("--namespace", "demo")
    first = as_json(run, *ns, "reembed")
    assert first == {"embedded": 9}
    # nothing is missing any more; a search with embeddings now uses the stored vectors
    assert as_json(run, *ns, "reembed") == {"embedded": 0}
    code, out, _ = run(*ns, "--embeddings", "episode", "search", "ship the payments service")
    assert code == 0 and "Deploy" in out
