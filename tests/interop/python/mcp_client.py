#!/usr/bin/env python3
"""Drives `rpcurl mcp` with the reference MCP client (the Python SDK, `mcp`).

Usage: mcp_client.py SCENARIO -- RPCURL [ARGS...]

Spawns RPCURL ARGS over stdio, runs the scenario's steps and prints one JSON
object on stdout: each step's outcome (the tool list, tool results as the
client parsed them, protocol errors), for tests/it/mcp.rs to check. A
`transcript` list records what was asked and answered, for people.
"""

import asyncio
import json
import sys

import jsonschema
from mcp import Client, StdioServerParameters
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


SCENARIOS = {"full": full, "serve": serve, "down": down, "listing": listing}


async def main():
    scenario = sys.argv[1]
    command = sys.argv[sys.argv.index("--") + 1 :]
    params = StdioServerParameters(command=command[0], args=command[1:])
    report = {"transcript": []}
    async with Client(params, mode="legacy", cache=None) as client:
        report["serverInfo"] = client.server_info.model_dump(exclude_none=True) if client.server_info else None
        await SCENARIOS[scenario](client, report)
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    asyncio.run(main())
