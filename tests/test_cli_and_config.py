"""The command line, configuration from the environment, and store location resolution."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from selfmem import Limits, MemoryConfig, SelfLearningMemory, TaskOutcome
from selfmem.cli import main
from selfmem.cli.app import build_parser
from selfmem.cli.common import DATABASE_FILE
from selfmem.cli.demo import NEXT_COMMANDS, next_commands
from selfmem.cli.output import count
from selfmem.cli.quiet import quiet_model_loading
from selfmem.cli.render import outcome_text
from selfmem.config import resolve_location


def test_demo_runs_on_the_embedded_default(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "selfmem", "demo"], cwd=tmp_path, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Suggested tool sequence: build_image -> run_migrations -> deploy" in done.stdout
    assert "What to avoid:" in done.stdout
    assert "ghp_" not in done.stdout
    assert (tmp_path / ".selfmem" / "selfmem.db").is_file()
    assert (tmp_path / ".selfmem" / "cache").is_dir()
    with SelfLearningMemory.open(tmp_path / ".selfmem") as memory:
        assert memory.stats().episodes == 9
        assert memory.list_heuristics()


def test_stats_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--path", str(tmp_path), "demo"]) == 0
    capsys.readouterr()
    assert main(["--path", str(tmp_path), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["episodes"] == 9 and stats["failures"] == 3 and stats["patterns"] >= 1
    assert main(["--path", str(tmp_path), "stats"]) == 0
    assert "episodes" in capsys.readouterr().out


def test_cli_reports_errors_with_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert main(["--path", str(not_a_dir), "stats"]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_config_from_env() -> None:
    config = MemoryConfig.from_env(
        {
            "SELFMEM_NAMESPACE": "team",
            "SELFMEM_FLUSH_INTERVAL": "0",
            "SELFMEM_CACHE_MAX_EPISODES": "7",
            "SELFMEM_REDACT": "0",
        }
    )
    assert config.namespace == "team"
    assert config.flush_interval_s is None
    assert config.cache_max_episodes == 7
    assert config.redact_secrets is False
    assert MemoryConfig.from_env({"SELFMEM_FLUSH_INTERVAL": "2.5"}).flush_interval_s == 2.5
    assert MemoryConfig.from_env({}) == MemoryConfig()
    assert MemoryConfig().with_options(limits=Limits(max_tags=1)).limits.max_tags == 1


@pytest.mark.parametrize(
    ("arg", "token", "env", "expected"),
    [
        (None, None, {}, (".selfmem", None)),
        (None, None, {"SELFMEM_PATH": "/data/mem"}, ("/data/mem", None)),
        (None, None, {"TURSO_DATABASE_URL": "libsql://x.turso.io", "TURSO_AUTH_TOKEN": "t"},
         ("libsql://x.turso.io", "t")),
        (None, None, {"SELFMEM_DATABASE_URL": "http://a", "TURSO_DATABASE_URL": "http://b",
                      "SELFMEM_AUTH_TOKEN": "s", "TURSO_AUTH_TOKEN": "t"}, ("http://a", "s")),
        ("./here", "explicit", {"SELFMEM_DATABASE_URL": "http://a", "SELFMEM_AUTH_TOKEN": "s"},
         ("./here", "explicit")),
    ],
)  # fmt: skip
def test_resolve_location(
    arg: str | None, token: str | None, env: dict[str, str], expected: tuple[str, str | None]
) -> None:
    assert resolve_location(arg, token, env) == expected


# -- the first hour: demo, a mistyped --path, options after the command, quiet model loading --

DOCS_CLI = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _first_shell_block() -> list[list[str]]:
    block = re.search(r"```bash\n(.*?)```", DOCS_CLI.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    lines = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [line[1:] for line in lines if line and line[0] == "selfmem"]


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SELFMEM_PATH", "SELFMEM_NAMESPACE", "SELFMEM_DATABASE_URL", "TURSO_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_commands_after_the_demo_show_what_it_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    first, *after = _first_shell_block()
    assert first == ["demo"] and len(after) >= 4
    assert main(first) == 0  # into ./.selfmem, namespace 'default': where the next ones look
    out = capsys.readouterr().out
    assert "in namespace 'default'" in out
    assert out.splitlines()[-len(NEXT_COMMANDS) - 1 :] == [
        "Look at what it recorded:",
        *(f"  {command}" for command in next_commands(None, None, None)),
    ]
    for command in after:
        assert main(command) == 0, command
        shown = capsys.readouterr().out
        assert shown.strip(), f"selfmem {shlex.join(command)} printed nothing"
    for command in NEXT_COMMANDS:
        assert main(list(command)) == 0
        assert capsys.readouterr().out.strip(), command


def test_the_demo_records_into_the_namespace_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_environment(monkeypatch)
    store = str(tmp_path / "try")
    assert main(["demo", "--path", store, "--namespace", "team"]) == 0
    out = capsys.readouterr().out
    assert f"  selfmem --path {store} --namespace team episode list" in out
    assert main(["--path", store, "--namespace", "team", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 9
    assert main(["--path", store, "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 0


READ_COMMANDS = [
    ["stats"],
    ["episode", "list"],
    ["episode", "show", "x"],
    ["episode", "search", "login"],
    ["episode", "delete", "x", "--yes"],
    ["episode", "log-step", "x", "--tool", "t"],
    ["episode", "complete", "x", "--status", "success"],
    ["pattern", "list"],
    ["heuristic", "list"],
    ["recommend", "deploy"],
    ["relearn"],
    ["export"],
    ["serve-mcp", "--read-only"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_command_that_only_reads_needs_an_existing_store(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo" / "store"
    assert main(["--path", str(missing), *command]) == 1
    err = capsys.readouterr().err
    assert f"no selfmem store at {missing}" in err and "--path" in err
    assert not (tmp_path / "typo").exists()  # nothing created


def test_commands_that_record_create_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "new" / "store"
    assert main(["--path", str(store), "episode", "start", "first task"]) == 0
    assert (store / DATABASE_FILE).is_file()
    assert main(["--path", str(store), "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["open_episodes"] == 1


def test_the_store_file_name_matches_the_storage_layer() -> None:
    from selfmem.storage.schema import DATABASE_FILE as STORED

    assert DATABASE_FILE == STORED


@pytest.mark.parametrize(
    "command",
    [["stats"], ["episode", "list"], ["pattern", "list", "--all"], ["export"],
     ["recommend", "Deploy the payments API to staging"]],
    ids=" ".join,
)  # fmt: skip
def test_global_options_go_before_or_after_the_command(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "s")
    assert main(["--path", store, "--namespace", "team", "demo"]) == 0
    capsys.readouterr()
    options = ["--path", store, "--namespace", "team", "--json"]
    assert main([*options, *command]) == 0
    before = capsys.readouterr().out
    assert main([*command, *options]) == 0
    after = capsys.readouterr().out
    assert before.strip() not in ("", "[]")
    if command[0] == "recommend":  # scores move as patterns are served: compare what was found
        before, after = ([r["pattern"]["id"] for r in json.loads(o)] for o in (before, after))
    assert after == before


def test_global_options_after_group_commands_and_serve_mcp(tmp_path: Path) -> None:
    parser = build_parser()
    for argv in (
        ["serve-mcp", "--path", "X", "--namespace", "N", "--read-only"],
        ["serve-mcp", "--transport", "http", "--url", "http://h", "--embeddings"],
        ["episode", "--path", "X", "list", "--namespace", "N"],
        ["--path", "A", "episode", "list", "--path", "X", "--namespace", "N"],  # after wins
        ["pattern", "list", "--path", "X", "--json"],
        ["demo", "--path", "X", "--namespace", "N"],
    ):
        args = parser.parse_args(argv)
        assert args.path in ("X", None) and args.namespace in ("N", None), argv
        assert (args.path or args.url) is not None
    args = parser.parse_args(["stats"])
    assert (args.path, args.url, args.namespace, args.json, args.embeddings) == (
        None, None, None, False, False)  # fmt: skip


def test_path_and_url_exclude_each_other_in_any_position(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["--path", "a", "stats", "--url", "http://127.0.0.1:1"])
    assert usage.value.code == 2
    assert "not allowed with argument --path" in capsys.readouterr().err


def test_model_loading_is_quiet_when_stderr_is_a_pipe(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with SelfLearningMemory.open(store, flush_interval_s=None) as memory:
        eid = memory.start_episode("Fix the failing login test")
        memory.log_step(eid, tool="run_tests", observation="1 passed")
        memory.complete_episode(eid, TaskOutcome.success("green"))
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("TRANSFORMERS_", "HF_HUB_"))
    }
    environment["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "selfmem", "reembed", "--path", str(store), "--json"],
        capture_output=True, text=True, check=False, timeout=300, env=environment,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"embedded": 1}
    assert done.stderr == ""  # no "Loading weights" bar, no advisory logging


def test_model_loading_is_left_alone_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    assert quiet_model_loading(Terminal()) is False
    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    assert quiet_model_loading(io.StringIO()) is True
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"  # the user's choice is kept


def test_an_outcome_reads_once_and_counts_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--path", str(tmp_path / "s")]
    assert main([*store, "episode", "start", "Fix the login test"]) == 0
    eid = capsys.readouterr().out.strip()
    assert main([*store, "episode", "log-step", eid, "--tool", "pytest", "--observation", "-"]) == 0
    assert main([*store, "episode", "complete", eid, "--status", "success"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:11]
    fields = dict(line.split(None, 1) for line in lines if line)
    assert fields["outcome"] == "success"
    assert main([*store, "relearn"]) == 0
    assert capsys.readouterr().out.startswith("relearned from 1 episode: ")
    assert outcome_text(TaskOutcome.success("green")) == "success: green"
    assert outcome_text(TaskOutcome.failure("deploy failed")) == "failure: deploy failed"
    assert outcome_text(None) == "open (not completed)"
    assert (count(1, "episode"), count(0, "episode"), count(2, "bad line")) == (
        "1 episode", "0 episodes", "2 bad lines")  # fmt: skip
