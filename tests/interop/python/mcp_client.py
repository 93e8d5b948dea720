#!/usr/bin/env python3
"""Drives `rpcurl mcp` with the reference MCP client (the Python SDK, `mcp`).

Usage: mcp_client.py SCENARIO -- RPCURL [ARGS...]   (stdio: spawns RPCURL ARGS)
       mcp_client.py SCENARIO -- http://HOST:PORT/mcp  (streamable HTTP)
       mcp_client.py changes RPCURL HEALTH_SET TEST_SET stdio|http

Runs the scenario's steps and prints one JSON object on stdout: each step's outcome (the tool list, tool results as the
client parsed them, protocol errors), for tests/it/mcp.rs to check. A
`transcript` list records what was asked and answered, for people.
"""

import asyncio
import json
import socket
import subprocess
import sys
import time

import jsonschema
from mcp import Client, StdioServerParameters, types
from mcp.shared.exceptions import MCPError

TOOL_PREFIX = "rpcurl_test_v1_TestService_"


def dump(result):
    """A tool result as plain JSON."""
    return {
        "isError": bool(result.is_error),
        "structured": result.structured_content,
        "text": [c.text for c in result.content if getattr(c, "type", "") == "text"],
    }


async def call(client, report, step, name, arguments):
    try:
        result = await client.call_tool(name, arguments)
        report[step] = dump(result)
    except MCPError as e:
        report[step] = {"protocolError": {"code": e.error.code, "message": e.error.message}}
    except Exception as e:  # noqa: BLE001 - the test reads what went wrong
        report[step] = {"clientError": f"{type(e).__name__}: {e}"}
    report["transcript"].append({"call": name, "arguments": arguments, "result": report[step]})


async def full(client, report):
    tools = (await client.list_tools()).tools
    report["tools"] = {
        t.name: {
            "description": t.description,
            "inputSchema": t.input_schema,
            "outputSchema": t.output_schema,
            "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True)
            if t.annotations
            else None,
        }
        for t in tools
    }
    report["transcript"].append({"list_tools": sorted(report["tools"])})
    # Requests checked against the tool's input schema, as a host would.
    schema = report["tools"][TOOL_PREFIX + "Echo"]["inputSchema"]
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {"fString": "hi", "fInt64": "7", "recursive": {"fInt32": 2}, "color": "COLOR_RED"}
    bad = {"fString": 5}
    report["schemaAcceptsGood"] = not list(validator.iter_errors(good))
    report["schemaRejectsBad"] = bool(list(validator.iter_errors(bad)))
    for name in ["Sum", "Chat"]:
        jsonschema.Draft202012Validator.check_schema(report["tools"][TOOL_PREFIX + name]["inputSchema"])
    sum_validator = jsonschema.Draft202012Validator(report["tools"][TOOL_PREFIX + "Sum"]["inputSchema"])
    report["sumSchemaAccepts"] = not list(sum_validator.iter_errors({"messages": [{"value": "1"}, {"value": 2}]}))

    await call(client, report, "echo", TOOL_PREFIX + "Echo", good)
    await call(client, report, "count", TOOL_PREFIX + "Count", {"count": 3, "text": "x"})
    await call(client, report, "countCut", TOOL_PREFIX + "Count", {"count": 1000})
    await call(client, report, "sum", TOOL_PREFIX + "Sum", {"messages": [{"value": "1"}, {"value": 2}, {"value": 3}]})
    await call(client, report, "chat", TOOL_PREFIX + "Chat", {"messages": [{"text": "a"}, {"text": "b"}]})
    await call(client, report, "fail", TOOL_PREFIX + "Fail", {"code": 3, "message": "bad thing", "withDetails": True})
    await call(client, report, "badArgs", TOOL_PREFIX + "Echo", {"fInt32": "not a number"})
    await call(client, report, "unknownField", TOOL_PREFIX + "Echo", {"noSuchField": 1})
    await call(client, report, "metadataOff", TOOL_PREFIX + "Echo", {"_metadata": {"x-a": "b"}})
    await call(client, report, "unknownTool", "no_such_tool", {})
    await call(client, report, "listMethods", "list_methods", {"filter": "*.Echo"})
    await call(client, report, "describe", "describe", {"symbol": "rpcurl.test.v1.CountRequest"})
    await call(client, report, "callAny", "call", {"method": "rpcurl.test.v1.TestService/Echo", "request": {"fString": "via call"}})
    await call(client, report, "callMissing", "call", {"method": "rpcurl.test.v1.TestService/Nope"})


async def down(client, report):
    await call(client, report, "first", TOOL_PREFIX + "Echo", {"fString": "x"})
    await call(client, report, "second", TOOL_PREFIX + "Echo", {"fString": "y"})
    report["pingAfter"] = True
    await client.send_ping()


async def serve(client, report):
    report["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
    await call(client, report, "echo", TOOL_PREFIX + "Echo", {"fString": "hi"})
    await call(client, report, "count", TOOL_PREFIX + "Count", {"count": 2})
    await call(client, report, "sum", TOOL_PREFIX + "Sum", {"messages": [{"value": "1"}]})


async def listing(client, report):
    tools = (await client.list_tools()).tools
    report["tools"] = sorted(t.name for t in tools)


EXTRA = []
SCENARIOS = {"full": full, "serve": serve, "down": down, "listing": listing}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(rpcurl, schema, port):
    """rpcurl serve on PORT, once it answers."""
    proc = subprocess.Popen(
        [rpcurl, "serve", "-q", "--schema", schema, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("rpcurl serve did not start")


async def changes(rpcurl, health_set, test_set, transport):
    """The API behind rpcurl mcp is replaced by a bigger one (a deploy): a call
    to a new method through the `call` tool reaches it, and the client is told
    that the tool list changed."""
    report = {"transcript": [], "notifications": []}
    port = free_port()
    upstream = start_serve(rpcurl, health_set, port)
    mcp_proc = None
    changed = asyncio.Event()

    async def on_message(message):
        if isinstance(message, types.ToolListChangedNotification):
            report["notifications"].append("tools/list_changed")
            changed.set()

    args = ["mcp", "--plaintext", f"127.0.0.1:{port}", *EXTRA]
    try:
        if transport == "http":
            mcp_proc = subprocess.Popen([rpcurl, *args, "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
            line = mcp_proc.stderr.readline()
            server = line[line.index("http://") :].strip()
        else:
            server = StdioServerParameters(command=rpcurl, args=args)
        async with Client(server, mode="legacy", cache=None, message_handler=on_message) as client:
            report["before"] = sorted(t.name for t in (await client.list_tools()).tools)
            upstream.kill()
            upstream.wait()
            upstream = start_serve(rpcurl, test_set, port)
            await call(client, report, "newMethod", "call", {"method": "rpcurl.test.v1.TestService/Echo", "request": {"fString": "new"}})
            try:
                await asyncio.wait_for(changed.wait(), 10)
            except TimeoutError:
                pass
            report["after"] = sorted(t.name for t in (await client.list_tools()).tools)
    finally:
        upstream.kill()
        if mcp_proc:
            mcp_proc.kill()
    return report


async def main():
    scenario = sys.argv[1]
    if scenario == "changes":
        report = await changes(*sys.argv[2:6])
    else:
        target = sys.argv[sys.argv.index("--") + 1 :]
        if target[0].startswith("http://"):
            server = target[0]
        else:
            server = StdioServerParameters(command=target[0], args=target[1:])
        report = {"transcript": []}
        async with Client(server, mode="legacy", cache=None) as client:
            report["serverInfo"] = client.server_info.model_dump(exclude_none=True) if client.server_info else None
            await SCENARIOS[scenario](client, report)
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    asyncio.run(main())
