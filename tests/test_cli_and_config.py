"""The command line, configuration from the environment, and store location resolution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from selfmem import Limits, MemoryConfig, SelfLearningMemory
from selfmem.cli import main
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
    with SelfLearningMemory.open(tmp_path / ".selfmem", namespace="demo") as memory:
        assert memory.stats().episodes == 9
        assert memory.list_heuristics()


def test_stats_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--path", str(tmp_path), "demo"]) == 0
    capsys.readouterr()
    assert main(["--path", str(tmp_path), "--namespace", "demo", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["episodes"] == 9 and stats["failures"] == 3 and stats["patterns"] >= 3
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
