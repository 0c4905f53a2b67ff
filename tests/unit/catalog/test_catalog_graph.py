"""The tool graph (`fcsynth.catalog.graph`) and scenario tool subsets sampled along it."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from fcsynth.catalog.graph import (
    RESPONSE_FIELD,
    SAME_RESOURCE,
    SHARED_VALUE,
    catalog_edges,
    connected,
    edge_rows,
    neighbours,
    resource,
    rows_edges,
    tool_edges,
    value_role,
)
from fcsynth.catalog.openapi import import_openapi
from fcsynth.generation.sampling import rng_for, sample_subset
from fcsynth.tools import Tool

INVOICES = {
    "openapi": "3.0.0", "info": {"title": "Billing", "version": "1"},
    "paths": {
        "/v1/invoices": {
            "post": {"operationId": "create_invoice", "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "properties": {"customer_id": {"type": "string"}, "amount": {"type": "integer"}}}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string"}}}}}}}},
            "get": {"operationId": "list_invoices", "responses": {"200": {"description": "ok"}}},
        },
        "/v1/invoices/{invoice_id}/send": {"post": {"operationId": "send_invoice", "parameters": [
            {"name": "invoice_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}}}},
        "/v1/customers": {"post": {"operationId": "create_customer", "responses": {"200": {"description": "ok",
            "content": {"application/json": {"schema": {"type": "object", "properties": {
                "customerId": {"type": "string"}, "email": {"type": "string"}}}}}}}}},
        "/v1/reports/daily": {"get": {"operationId": "daily_report", "responses": {"200": {"description": "ok"}}}},
    },
}


def _edges(tmp_path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    spec = tmp_path / "billing.json"
    spec.write_text(json.dumps(INVOICES))
    tools = import_openapi(spec, toolkit="billing").tools
    return {(e.source, e.target): (e.kind, e.via) for e in tool_edges(tools)}


def test_edges_follow_response_fields_and_shared_resources(tmp_path: Path) -> None:
    edges = _edges(tmp_path)
    # create_invoice's `id` fills send_invoice's invoice_id: it acts on invoices
    assert edges[("create_invoice", "send_invoice")] == (RESPONSE_FIELD, "invoice_id")
    # customerId (camel case) fills create_invoice's customer_id
    assert edges[("create_customer", "create_invoice")] == (RESPONSE_FIELD, "customer_id")
    # the same collection, both ways
    assert edges[("list_invoices", "create_invoice")] == (SAME_RESOURCE, "invoice")
    assert edges[("send_invoice", "list_invoices")] == (SAME_RESOURCE, "invoice")
    assert ("create_customer", "send_invoice") not in edges  # an `id` of a customer is not an invoice's
    assert not any("daily_report" in pair for pair in edges)


def test_resource_of_a_path_and_of_a_name() -> None:
    def tool(name: str, operation: str | None = None) -> Tool:
        return Tool("k", name, "", {"type": "object"}, operation=operation)

    assert resource(tool("x", "GET /users/{userId}/messages/{id}")) == "message"
    assert resource(tool("x", "POST /v2/invoices")) == "invoice"
    assert resource(tool("list_categories")) == "category"
    assert resource(tool("search")) is None


def test_graph_rows_round_trip_and_bundle_edges_cross_toolkits() -> None:
    a = Tool("cal", "get_event", "", {"type": "object"}, response={"type": "object", "properties": {"id": {"type": "string"}}})
    b = Tool("meet", "cancel_event", "", {"type": "object", "properties": {"event_id": {"type": "string"}}})
    assert catalog_edges([a, b]) == []  # different toolkits, no bundle
    edges = catalog_edges([a, b], bundles=[["cal", "meet"]])
    assert {(e.toolkit, e.source, e.target_toolkit, e.target, e.kind) for e in edges} == {
        ("cal", "get_event", "meet", "cancel_event", RESPONSE_FIELD), ("meet", "cancel_event", "cal", "get_event", SAME_RESOURCE)}
    rows = edge_rows(edges)
    assert rows_edges(pl.DataFrame(rows).to_dicts()) == edges and len({r["id"] for r in rows}) == len(rows)


def test_sampled_subsets_walk_the_graph(tmp_path: Path) -> None:
    chain = [Tool("k", f"step_{i}", "", {"type": "object"}) for i in range(12)]
    adjacent = neighbours(
        rows_edges([{"toolkit": "k", "source": f"step_{i}", "target_toolkit": "k", "target": f"step_{i + 1}",
                     "kind": RESPONSE_FIELD, "via": "id"} for i in range(11)]))
    walked = [sample_subset(chain, (3, 4), rng_for(0, str(i)), adjacent, 0.0) for i in range(50)]
    assert all(connected([(t.toolkit, t.name) for t in s], adjacent) for s in walked)
    randomly = [sample_subset(chain, (3, 4), rng_for(0, str(i)), adjacent, 1.0) for i in range(50)]
    assert sum(connected([(t.toolkit, t.name) for t in s], adjacent) for s in randomly) < 25
    assert sample_subset(chain, (3, 4), rng_for(0, "a"), adjacent, 0.2) == sample_subset(chain, (3, 4), rng_for(0, "a"), adjacent, 0.2)


def test_emails_and_links_join_toolkits_that_share_no_ids() -> None:
    event = Tool("cal", "get_event", "", {"type": "object"}, response={"type": "object", "properties": {
        "organizer": {"type": "object", "properties": {"email": {"type": "string"}}},
        "htmlLink": {"type": "string"}}})
    send = Tool("mail", "send_message", "", {"type": "object", "properties": {
        "to": {"type": "array", "items": {"type": "string", "format": "email"}}, "body": {"type": "string"}}})
    media = Tool("chat", "send_media", "", {"type": "object", "properties": {"link": {"type": "string"}}})
    phone = Tool("chat", "send_text", "", {"type": "object", "properties": {"to": {"type": "string"}}})
    edges = {(e.source, e.target): (e.kind, e.via) for e in catalog_edges([event, send, media, phone], [["cal", "mail", "chat"]])}
    assert edges[("get_event", "send_message")] == (SHARED_VALUE, "email:to")
    assert edges[("get_event", "send_media")] == (SHARED_VALUE, "link:link")
    assert not any("send_text" in pair for pair in edges)  # a phone number `to` is no email
    assert [value_role(n, {}) for n in ("attendee_emails", "email_address", "scheduling_url", "uri", "emailed", "title")] == [
        "email", "email", "link", "link", None, None]


def test_a_bundle_walk_starts_where_its_toolkits_meet() -> None:
    """Only one tool of each toolkit bridges to the other: every walked subset starts there."""
    a = [Tool("a", f"a_{i}", "", {"type": "object"}) for i in range(6)]
    b = [Tool("b", f"b_{i}", "", {"type": "object"}) for i in range(6)]
    rows = [{"toolkit": "a", "source": f"a_{i}", "target_toolkit": "a", "target": f"a_{i + 1}", "kind": RESPONSE_FIELD,
             "via": "id"} for i in range(5)]
    rows += [{"toolkit": "b", "source": f"b_{i}", "target_toolkit": "b", "target": f"b_{i + 1}", "kind": RESPONSE_FIELD,
              "via": "id"} for i in range(5)]
    rows.append({"toolkit": "a", "source": "a_5", "target_toolkit": "b", "target": "b_0", "kind": SHARED_VALUE, "via": "email:to"})
    adjacent = neighbours(rows_edges(rows))
    walked = [sample_subset(a + b, (2, 2), rng_for(0, str(i)), adjacent, 0.0) for i in range(30)]
    assert all({t.name for t in s} == {"a_5", "b_0"} for s in walked)
