"""Demo tools and a builder of user/assistant exchanges, shared by the DML and turn-grammar tests."""

from __future__ import annotations

from fcsynth.tools import Tool

WEATHER = Tool(
    "demo",
    "get_weather",
    "Current weather for a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1},
            "unit": {"type": "string", "enum": ["C", "F"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    response={
        "type": "object",
        "properties": {"temp": {"type": "number"}, "sky": {"type": "string"}},
        "required": ["temp"],
    },
)
EMAIL = Tool(
    "demo",
    "send_email",
    "Send an email.",
    {
        "type": "object",
        "properties": {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
        "required": ["to", "body"],
    },
)
SEARCH = Tool("demo", "search_contacts", "Find contacts.", {"type": "object", "properties": {"query": {"type": "string"}}})
TOOLS = [WEATHER, EMAIL, SEARCH]

W_ARGS = {"city": "Paris", "unit": "C"}
W_RESP = '{"temp": 21.5, "sky": "clear"}'
E_ARGS = {"to": "bob@example.com", "body": "Hi Bob"}
E_RESP = '{"id": "m1", "status": "sent"}'


def turn(user: str, steps: list[list[tuple[str, dict, str]]] = (), final: str = "Done.", think: str | None = None,
         start: int = 1) -> list[dict]:
    """Messages of one user/assistant exchange; steps are lists of (tool, args, response)."""
    msgs: list[dict] = [{"role": "user", "content": user}]
    first = len(msgs)
    n = start
    for step in steps:
        calls = []
        for name, args, _ in step:
            calls.append({"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}})
            n += 1
        msgs.append({"role": "assistant", "content": "", "tool_calls": calls})
        for call, (name, _, resp) in zip(calls, step, strict=True):
            msgs.append({"role": "tool", "tool_call_id": call["id"], "name": name, "content": resp})
    msgs.append({"role": "assistant", "content": final})
    if think is not None:
        msgs[first]["reasoning_content"] = think
    return msgs


# One valid exchange with one call, the base that the rejected mutations change.
BASE = turn("Weather in Paris?", [[("get_weather", W_ARGS, W_RESP)]], "It is 21.5 C.")
