"""The MCP server: every tool, resource and error path through the SDK's in-process client,
then real sessions over stdio and streamable HTTP with ``selfmem serve-mcp``."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import mcp
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from starlette.responses import PlainTextResponse

from selfmem import SelfLearningMemory
from selfmem.cli.demo import run_demo
from selfmem.mcp import WRITE_TOOLS, BearerTokenMiddleware, build_server
from selfmem.mcp.guide import usage_prompt
from selfmem.mcp.http import build_http_app

from .helpers import run_episode
from .sqld_server import free_port

READ_TOOLS = {"retrieve_context", "search_patterns", "recommend_patterns", "find_recovery",
              "list_episodes", "get_episode", "memory_stats"}  # fmt: skip


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory.open(
        tmp_path / "mem", flush_interval_s=None, learn_inline=True
    ) as handle:
        yield handle


@pytest.fixture
def server(memory: SelfLearningMemory) -> MCPServer[Any]:
    return build_server(memory)


@pytest.fixture
def connect(server: MCPServer[Any]) -> Callable[[], mcp.Client]:
    """The SDK's in-process client for the server; enter it inside the test's own task
    (anyio cancel scopes cannot span pytest-asyncio's fixture and test tasks)."""
    return lambda: mcp.Client(server)


def text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def call(client: mcp.Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, text(result)
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None
    return structured


async def fails(client: mcp.Client, name: str, **arguments: Any) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error, result
    return text(result)


# -- the catalogue ------------------------------------------------------------------------


async def test_tools_have_described_and_limited_schemas(connect: Callable[[], mcp.Client]) -> None:
    async with connect() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == READ_TOOLS | set(WRITE_TOOLS)
        for tool in tools.values():
            assert tool.description and tool.output_schema, tool.name
            for name, schema in tool.input_schema.get("properties", {}).items():
                assert "description" in schema, f"{tool.name}.{name} has no description"
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint is (tool.name in READ_TOOLS)
        limit = tools["retrieve_context"].input_schema["properties"]["limit"]
        assert (limit["minimum"], limit["maximum"]) == (1, 20)
        description = tools["start_episode"].input_schema["properties"]["task_description"]
        assert description["minLength"] == 1 and description["maxLength"] == 10_000
        assert not any("exec" in name or "shell" in name for name in tools)


async def test_read_only_server_has_no_writing_tool(memory: SelfLearningMemory) -> None:
    async with mcp.Client(build_server(memory, read_only=True)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == READ_TOOLS
        assert "Unknown tool" in await fails(client, "start_episode", task_description="x")
        prompt = await client.get_prompt("use_memory", {})
    block = prompt.messages[0].content
    assert isinstance(block, TextContent) and "start_episode" not in block.text


# -- the lifecycle ------------------------------------------------------------------------


async def test_lifecycle_and_retrieval_through_tools(
    connect: Callable[[], mcp.Client], memory: SelfLearningMemory
) -> None:
    async with connect() as client:
        started = await call(client, "start_episode", task_description="Fix the failing login test",
                             context={"domain": "web", "language": "python", "tags": ["auth"]},
                             task_type="debugging")  # fmt: skip
        eid = started["episode_id"]
        assert started["namespace"] == "default"
        step = await call(client, "log_step", episode_id=eid, tool="run_tests",
                          error="1 failed: expected 200, got 401", latency_ms=2100)  # fmt: skip
        assert step == {"episode_id": eid, "step_number": 1, "success": False, "truncated": []}
        secret = {"path": "auth.py", "api_key": "sk-" + "a" * 40}
        await call(client, "log_step", episode_id=eid, tool="edit_file", parameters=secret,
                   observation="saved")  # fmt: skip
        await call(client, "log_step", episode_id=eid, tool="run_tests", observation="1 passed")
        done = await call(client, "complete_episode", episode_id=eid, status="success",
                          verdict="login test passes", artifacts=["auth.py"])  # fmt: skip
        assert done["episode"]["outcome"] == "success" and done["episode"]["reward"] > 0
        assert done["episode"]["tool_sequence"] == ["run_tests", "edit_file", "run_tests"]
        assert done["reward_explanation"] and done["reflection"]["what_worked"]

        result = await client.call_tool(
            "retrieve_context", {"task_description": "login returns 401 in the tests", "limit": 3}
        )
        assert not result.is_error
        assert "Relevant past experience" in text(result)
        assert "run_tests -> edit_file -> run_tests" in text(result)
        structured = result.structured_content or {}
        assert structured["rendered"] == text(result)
        assert structured["episodes"][0]["episode"]["id"] == eid
        assert set(structured["episodes"][0]["signals"]) >= {"lexical", "outcome"}

        episode = await call(client, "get_episode", episode_id=eid)
        assert [s["tool"] for s in episode["steps"]] == ["run_tests", "edit_file", "run_tests"]
        assert "sk-aaaa" not in json.dumps(episode)  # redacted before storage
        assert episode == memory.get_episode(eid).model_dump(mode="json")


async def test_nothing_found_is_said_plainly(connect: Callable[[], mcp.Client]) -> None:
    async with connect() as client:
        result = await client.call_tool("retrieve_context", {"task_description": "anything"})
        assert not result.is_error and "No relevant past experience" in text(result)
        assert (result.structured_content or {})["episodes"] == []


async def test_list_episodes_filters_and_pages(connect: Callable[[], mcp.Client]) -> None:
    async with connect() as client:
        ids = [
            (await call(client, "start_episode", task_description=f"task {n}"))["episode_id"]
            for n in range(3)
        ]
        await call(client, "complete_episode", episode_id=ids[0], status="failure", reason="no")
        page = await call(client, "list_episodes", limit=2)
        assert len(page["episodes"]) == 2 and page["has_more"] is True
        rest = await call(client, "list_episodes", limit=2, offset=2)
        assert len(rest["episodes"]) == 1 and rest["has_more"] is False
        open_ = await call(client, "list_episodes", status="open")
        assert {e["id"] for e in open_["episodes"]} == set(ids[1:])
        failed = await call(client, "list_episodes", outcome="failure")
        assert [e["id"] for e in failed["episodes"]] == [ids[0]]
        stats = await call(client, "memory_stats")
        assert (stats["episodes"], stats["open_episodes"], stats["failures"]) == (3, 2, 1)


async def test_a_custom_task_type_and_an_abandoned_run_through_the_tools(
    connect: Callable[[], mcp.Client],
) -> None:
    async with connect() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        for name in ("start_episode", "retrieve_context", "recommend_patterns", "list_episodes"):
            schema = json.dumps(tools[name].input_schema["properties"]["task_type"])
            assert '"enum"' not in schema and "planning" not in schema, name  # an open set
        planned = (await call(client, "start_episode", task_description="Plan the Q3 release",
                              task_type="planning"))["episode_id"]  # fmt: skip
        await call(client, "complete_episode", episode_id=planned, status="success")
        other = (await call(client, "start_episode", task_description="Plan the offsite"))
        await call(client, "complete_episode", episode_id=other["episode_id"],
                   status="abandoned", reason="cancelled")  # fmt: skip
        found = await call(client, "list_episodes", task_type="planning")
        assert [(e["id"], e["task_type"]) for e in found["episodes"]] == [(planned, "planning")]
        context = await call(client, "retrieve_context", task_description="Plan the Q4 release",
                             task_type="planning")  # fmt: skip
        assert planned in json.dumps(context)
        gone = await call(client, "list_episodes", outcome="abandoned")
        assert [e["id"] for e in gone["episodes"]] == [other["episode_id"]]
        stats = await call(client, "memory_stats")
        assert (stats["successes"], stats["failures"], stats["abandoned"]) == (1, 0, 1)


async def test_a_failed_call_finds_what_recovered_from_it_before(
    connect: Callable[[], mcp.Client],
) -> None:
    async with connect() as client:
        nothing = await call(client, "find_recovery", tool="upload", error="403: token expired")
        assert nothing["found"] is False and nothing["mode"] is None
        assert "nothing has been learned" in nothing["advice"]
        for minutes in (3, 12, 40):
            eid = (await call(client, "start_episode", task_description="Publish the package"))[
                "episode_id"
            ]
            for tool, error in (("upload", f"403: token expired {minutes} min ago"),
                                ("refresh_token", None), ("upload", None)):  # fmt: skip
                await call(client, "log_step", episode_id=eid, tool=tool, error=error)
            await call(client, "complete_episode", episode_id=eid, status="success")
        found = await call(client, "find_recovery", tool="upload",
                           error="403: token expired 95 min ago")  # fmt: skip
        assert (found["found"], found["mode"], found["recovery"]) == (True, "fix", "refresh_token")
        assert "refresh_token recovered it 3 of 3 times" in found["advice"]
        assert found["pattern"]["kind"] == "error_recovery"
        assert "tool" in await fails(client, "find_recovery", tool="", error="boom")


async def test_recommend_patterns_offers_partial_progress_unless_told_not_to(
    connect: Callable[[], mcp.Client], memory: SelfLearningMemory
) -> None:
    for module in ("parser", "invoice", "session"):
        run_episode(memory, f"Fix the failing {module} unit test",
                    ["run_pytest", "read_file", "run_linter"], fail_at=2,
                    success=False)  # fmt: skip
    task = "Fix the failing scheduler unit test"
    async with connect() as client:
        plain = await call(client, "recommend_patterns", task_description=task,
                           include_partial=False)  # fmt: skip
        assert plain["patterns"] == []
        found = await call(client, "recommend_patterns", task_description=task)
        first = found["patterns"][0]
        assert first["signals"]["partial"] == 1.0
        assert "none of the 3 most similar runs succeeded" in first["pattern"]["description"]
        assert "as far as the most similar runs got" in found["heuristics"][0]["rule"]


async def test_patterns_recommendations_and_feedback(
    connect: Callable[[], mcp.Client], memory: SelfLearningMemory
) -> None:
    async with connect() as client:
        run_demo(memory, echo=lambda _: None)
        found = await call(client, "search_patterns", query="migrations")
        assert found["patterns"] and all(
            "migrations" in p["description"] for p in found["patterns"]
        )
        assert (await call(client, "search_patterns", query="no-such-word"))["patterns"] == []
        kinds = await call(client, "search_patterns", kind="tool_sequence")
        assert {p["kind"] for p in kinds["patterns"]} == {"tool_sequence"}
        recommended = await call(client, "recommend_patterns",
                                 task_description="Deploy the payments API to staging",
                                 context={"domain": "web", "language": "python"})  # fmt: skip
        assert recommended["patterns"] and len(recommended["heuristics"]) == len(
            recommended["patterns"]
        )
        started = await call(client, "start_episode", task_description="Deploy payments")
        eid = started["episode_id"]
        pattern_id = recommended["patterns"][0]["pattern"]["id"]
        feedback = await call(client, "record_feedback", episode_id=eid, pattern_ids=[pattern_id])
        assert feedback["pattern_ids"] == [pattern_id]
        await call(client, "complete_episode", episode_id=eid, status="success")
        assert memory.get_pattern(pattern_id).feedback_uses == 1
        # a past run whose plan two later runs followed and failed with drops in retrieval
        past = memory.retrieve_relevant_context("Deploy the payments API to staging")
        copied = past.successes[0].episode.id
        for _ in range(2):
            eid = (await call(client, "start_episode", task_description="Deploy payments"))[
                "episode_id"
            ]
            said = await call(client, "record_feedback", episode_id=eid,
                              followed_episode_ids=[copied])  # fmt: skip
            assert said["followed_episode_ids"] == [copied]
            await call(client, "complete_episode", episode_id=eid, status="failure",
                       reason="deploy refused")  # fmt: skip
        memory.flush()
        again = memory.retrieve_relevant_context("Deploy the payments API to staging", limit=20)
        signals = {s.episode.id: s.signals for s in again.episodes}
        assert signals[copied].get("failed_when_followed") == 1.0


# -- errors: a clear tool error, never a crash ----------------------------------------------

BAD_CALLS = [
    ("start_episode", {"task_description": ""}, "task_description"),
    ("start_episode", {"task_description": "x", "task_type": "Cooking Dinner"}, "task_type"),
    ("start_episode", {"task_description": "x", "context": {"domian": "web"}}, "domian"),
    ("start_episode", {"task_description": "x", "context": {"tags": ["t"] * 33}}, "tags"),
    ("start_episode", {}, "task_description"),
    ("log_step", {"episode_id": "nope", "tool": "x"}, "NotFoundError"),
    ("log_step", {"episode_id": "nope", "tool": ""}, "tool"),
    ("log_step", {"episode_id": "e", "tool": "x", "latency_ms": -1}, "latency_ms"),
    ("complete_episode", {"episode_id": "nope", "status": "done"}, "status"),
    ("complete_episode", {"episode_id": "nope", "status": "failure"}, "needs a reason"),
    ("complete_episode", {"episode_id": "nope", "status": "success"}, "NotFoundError"),
    ("retrieve_context", {"task_description": "x", "limit": 0}, "limit"),
    ("retrieve_context", {"task_description": "x", "limit": 21}, "limit"),
    ("retrieve_context", {"task_description": " "}, "description"),
    ("recommend_patterns", {"task_description": "x", "limit": "many"}, "limit"),
    ("list_episodes", {"status": "closed"}, "status"),
    ("list_episodes", {"offset": -1}, "offset"),
    ("get_episode", {"episode_id": "nope"}, "not found"),
    ("get_episode", {"episode_id": "x" * 200}, "episode_id"),
    ("record_feedback", {"episode_id": "nope"}, "at least one id"),
    ("record_feedback", {"episode_id": "nope", "pattern_ids": ["p"]}, "NotFoundError"),
    ("search_patterns", {"kind": "recipe"}, "kind"),
    ("no_such_tool", {}, "Unknown tool"),
]  # fmt: skip


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_CALLS)
async def test_invalid_arguments_give_a_clear_tool_error(
    connect: Callable[[], mcp.Client], tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with connect() as client:
        message = await fails(client, tool, **arguments)
        assert expected in message
        stats = await call(client, "memory_stats")  # still serving, and nothing was stored
        assert stats["episodes"] == 0


async def test_limits_and_state_errors_come_from_the_core(
    connect: Callable[[], mcp.Client],
) -> None:
    async with connect() as client:
        eid = (await call(client, "start_episode", task_description="x"))["episode_id"]
        big = await fails(client, "log_step", episode_id=eid, tool="t",
                          parameters={"blob": "x" * 70_000})  # fmt: skip
        assert "LimitExceededError" in big and "step.parameters" in big
        long = await call(client, "log_step", episode_id=eid, tool="t", observation="y" * 60_000)
        assert long["truncated"] == ["observation"]
        await call(client, "complete_episode", episode_id=eid, status="partial_success")
        again = await fails(client, "complete_episode", episode_id=eid, status="success")
        assert "EpisodeStateError" in again and "already complete" in again


# -- resources and the prompt ---------------------------------------------------------------


async def test_resources_and_prompt(connect: Callable[[], mcp.Client]) -> None:
    async with connect() as client:
        eid = (await call(client, "start_episode", task_description="Write docs"))["episode_id"]
        stats = await client.read_resource("selfmem://stats")
        assert json.loads(stats.contents[0].text)["episodes"] == 1  # type: ignore[union-attr]
        episode = await client.read_resource(f"selfmem://episodes/{eid}")
        assert json.loads(episode.contents[0].text)["id"] == eid  # type: ignore[union-attr]
        templates = await client.list_resource_templates()
        assert [t.uri_template for t in templates.resource_templates] == [
            "selfmem://episodes/{episode_id}"
        ]
        with pytest.raises(MCPError, match="not found"):
            await client.read_resource("selfmem://episodes/missing")
        prompt = await client.get_prompt("use_memory", {"task": "Fix the build"})
        block = prompt.messages[0].content
        assert isinstance(block, TextContent)
        for name in ("retrieve_context", "start_episode", "log_step", "complete_episode"):
            assert name in block.text
        assert block.text.endswith("Your task: Fix the build")
        assert usage_prompt() == usage_prompt("  ")


# -- real sessions: stdio and streamable HTTP -----------------------------------------------


def _env(store: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELFMEM_")}
    return {**env, "SELFMEM_PATH": str(store), "SELFMEM_FLUSH_INTERVAL": "0", **extra}


async def test_stdio_session_with_a_real_subprocess(tmp_path: Path) -> None:
    store = tmp_path / "store"
    params = mcp.StdioServerParameters(
        command=sys.executable, args=["-m", "selfmem", "serve-mcp"], env=_env(store)
    )
    async with mcp.Client(params) as client:
        assert client.server_info is not None and client.server_info.name == "selfmem"
        assert len((await client.list_tools()).tools) == 11
        eid = (await call(client, "start_episode", task_description="Rotate the API keys"))[
            "episode_id"
        ]
        await call(client, "log_step", episode_id=eid, tool="vault", observation="ok")
        await call(client, "complete_episode", episode_id=eid, status="success")
        found = await client.call_tool("retrieve_context", {"task_description": "rotate keys"})
        assert "Rotate the API keys" in text(found)
        still_open = await call(client, "start_episode", task_description="Buffered")
        await call(client, "log_step", episode_id=still_open["episode_id"], tool="buffered")
        assert "NotFoundError" in await fails(client, "get_episode", episode_id="missing")
    # a clean shutdown flushed the step that was only buffered in the server process
    with SelfLearningMemory.open(store) as memory:
        assert memory.stats().episodes == 2
        assert [s.tool for s in memory.get_episode(still_open["episode_id"]).steps] == ["buffered"]


async def test_bearer_token_middleware() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("inside")(scope, receive, send)

    guarded = BearerTokenMiddleware(app, "t0ken")
    transport = httpx2.ASGITransport(app=guarded)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        refused = await http.get("/mcp")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith(
            "Bearer"
        )
        assert (await http.get("/", headers={"Authorization": "Basic t0ken"})).status_code == 401
        allowed = await http.get("/", headers={"authorization": "bearer t0ken"})
        assert (allowed.status_code, allowed.text) == (200, "inside")
    with pytest.raises(ValueError, match="must not be empty"):
        BearerTokenMiddleware(app, "")


def test_http_app_is_guarded_only_with_a_token(server: MCPServer[Any]) -> None:
    assert isinstance(build_http_app(server, token="x"), BearerTokenMiddleware)
    assert not isinstance(build_http_app(server, token=None), BearerTokenMiddleware)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the HTTP server did not start")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    SelfLearningMemory.open(tmp_path / "store").close()  # a read-only server needs a store
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "selfmem", "serve-mcp", "--transport", "http", "--port", str(port),
         "--read-only"],
        env=_env(tmp_path / "store", SELFMEM_MCP_TOKEN="s3cret"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=15)
        assert process.returncode == 0, errors.decode(errors="replace")  # a clean shutdown


def _post_status(url: str, headers: dict[str, str]) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        **headers,
    })  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_http_needs_the_bearer_token(http_server: str) -> None:
    assert _post_status(http_server, {}) == 401
    assert _post_status(http_server, {"Authorization": "Bearer wrong"}) == 401
    headers = {"Authorization": "Bearer s3cret"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        mcp.Client(streamable_http_client(http_server, http_client=http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == READ_TOOLS  # --read-only
        assert (await call(client, "memory_stats"))["episodes"] == 0


# -- lone surrogates over stdio -------------------------------------------------------------


@pytest.mark.parametrize(
    "line, fixed",
    [
        (rb'{"a": "report-\udcff.txt"}', rb'{"a": "report-\ufffd.txt"}'),
        (rb'{"a": "\ud800"}', rb'{"a": "\ufffd"}'),
        (rb'{"a": "\uD83D\uDE00 pair"}', rb'{"a": "\uD83D\uDE00 pair"}'),  # a valid pair
        (rb'{"a": "\\udcff"}', rb'{"a": "\\udcff"}'),  # an escaped backslash, then text
        (rb'{"a": "\ude00\ud83d"}', rb'{"a": "\ufffd\ufffd"}'),  # a pair the wrong way round
        (b'{"a": "plain"}\n', b'{"a": "plain"}\n'),
    ],
)
def test_stdin_filter_replaces_only_lone_surrogate_escapes(line: bytes, fixed: bytes) -> None:
    from selfmem.mcp.stdio import fix_line

    assert fix_line(line) == fixed


class _RawSession:
    """JSON-RPC over a ``selfmem serve-mcp`` subprocess, one line at a time, with a deadline
    on every answer (the SDK's client cannot send a lone surrogate at all)."""

    def __init__(self, store: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "selfmem", "serve-mcp"], env=_env(store),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._next_id = 0

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = 30.0) -> Any:
        self._next_id += 1
        self.send(json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method,
                              "params": params}))  # fmt: skip
        assert self.process.stdout is not None
        ready = select.select([self.process.stdout], [], [], timeout)[0]
        assert ready, f"no answer to {method} within {timeout} s"
        answer = json.loads(self.process.stdout.readline())
        assert answer["id"] == self._next_id
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def test_a_request_holding_a_lone_surrogate_is_answered_over_stdio(tmp_path: Path) -> None:
    store = tmp_path / "store"
    session = _RawSession(store)
    try:
        session.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                       "clientInfo": {"name": "raw", "version": "1"}})  # fmt: skip
        session.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        started = session.request("tools/call", {"name": "start_episode", "arguments": {
            "task_description": "Summarise report-\udcff.txt"}})  # fmt: skip
        eid = started["result"]["structuredContent"]["episode_id"]
        logged = session.request(
            "tools/call",
            {
                "name": "log_step",
                "arguments": {
                    "episode_id": eid,
                    "tool": "read",
                    "observation": "opened report-\udcff.txt",
                },
            },
        )
        assert not logged["result"]["isError"]
        missing = session.request(
            "tools/call", {"name": "get_episode", "arguments": {"episode_id": "missing-\udcff"}}
        )
        assert missing["result"]["isError"]
        assert "NotFoundError" in missing["result"]["content"][0]["text"]
    finally:
        session.close()
    with SelfLearningMemory.open(store) as memory:
        episode = memory.get_episode(eid)
        assert episode.task_description == "Summarise report-\ufffd.txt"
        assert episode.steps[0].observation == "opened report-\ufffd.txt"
