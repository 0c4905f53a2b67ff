"""Two fabricated test-split records (export shape) for the evaluate tests: parallel calls,
a JSON-string argument and a clarification (text) step."""

from __future__ import annotations

from typing import Any


def _tool(name: str, **props: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {k: {"type": t} for k, t in props.items()},
                           "required": list(props)},
        },
    }


def _call(turn: int, k: int, name: str, args: Any) -> dict[str, Any]:
    return {"id": f"call_{turn}_{k}", "type": "function", "function": {"name": name, "arguments": args}}


def fabricated_split() -> list[dict[str, Any]]:
    """Two test records: parallel calls, a JSON-string argument, a clarification (text) step."""
    gmail = [_tool("send_email", to="string", subject="string"), _tool("search_emails", query="string")]
    cal = [_tool("create_event", title="string", start="string")]
    r1 = {
        "id": "conv-0001", "selection": "gmail", "toolkits": ["gmail"],
        "tools": gmail,
        "messages": [
            {"role": "system", "content": "You assist Ana at Acme."},
            {"role": "user", "content": "Find Bob's invoice mail and email Carol that I'm on it."},
            {"role": "assistant", "content": "", "reasoning_content": "two independent things",
             "tool_calls": [_call(1, 0, "search_emails", {"query": "from:bob invoice"}),
                            _call(1, 1, "send_email", {"to": "carol@acme.com", "subject": "On it"})]},
            {"role": "tool", "tool_call_id": "call_1_0", "name": "search_emails", "content": '{"results": [{"id": "m1"}]}'},
            {"role": "tool", "tool_call_id": "call_1_1", "name": "send_email", "content": '{"status": "sent"}'},
            {"role": "assistant", "content": "Found Bob's invoice (m1) and emailed Carol."},
            {"role": "user", "content": "Now email Bob: 'Received'."},
            {"role": "assistant", "content": None,
             "tool_calls": [_call(2, 0, "send_email", '{"to": "bob@acme.com", "subject": "Received"}')]},
            {"role": "tool", "tool_call_id": "call_2_0", "name": "send_email", "content": '{"status": "sent"}'},
            {"role": "assistant", "content": "Done."},
        ],
    }
    r2 = {
        "id": "conv-0002", "selection": "gmail+googlecalendar", "toolkits": ["gmail", "googlecalendar"],
        "tools": gmail + cal,
        "messages": [
            {"role": "user", "content": "Book a sync."},
            {"role": "assistant", "content": "Sure, when should it start?"},
            {"role": "user", "content": "Tomorrow 10:00."},
            {"role": "assistant", "content": "",
             "tool_calls": [_call(2, 0, "create_event", {"title": "Sync", "start": "2024-05-02T10:00"})]},
            {"role": "tool", "tool_call_id": "call_2_0", "name": "create_event", "content": '{"id": "e1"}'},
            {"role": "assistant", "content": "Booked."},
        ],
    }
    return [r1, r2]
