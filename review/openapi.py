"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json."""
from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": required}}}}


_REF = {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}, "example": "CI-000123"}
_ERRORS = {"400": _json(_ref("Error"), "The request is not valid; the message says why"),
           "401": _json(_ref("Error"), "No valid API token"),
           "404": _json(_ref("Error"), "No such item among those the token's owner may see")}
_QUERY = [{"name": n, "in": "query", "required": False, "schema": s, "description": d} for n, s, d in (
    ("q", {"type": "string"}, "words in the subject, the reference or the client's text; all must match"),
    ("category", {"type": "string", "enum": ["issue", "change_request", "question", "feedback"]}, ""),
    ("status", {"type": "string"}, "a workflow status"),
    ("sla", {"type": "string", "enum": ["on_track", "at_risk", "breached", "met"]},
     "the item's SLA state, as the worker's last SLA check stored it"),
    ("review", {"type": "integer", "enum": [0, 1]}, "1: only items that need review"),
    ("follow_up", {"type": "integer", "enum": [0, 1]}, "1: only items flagged for follow-up"),
    ("org", {"type": "integer"}, "organization id"),
    ("assignee", {"type": "string"}, "a user id, me or none"),
    ("since", {"type": "string", "format": "date"}, "received on or after (UTC)"),
    ("until", {"type": "string", "format": "date"}, "received on or before (UTC)"),
    ("sort", {"type": "string", "enum": ["due", "newest", "oldest", "confidence", "updated"]},
     "due (the default): open items with a broken SLA target first, then by sla_due_at, soonest first"),
    ("mine", {"type": "integer", "enum": [0, 1]},
     "1: the token owner's queue: items assigned to them and unassigned items of their organizations"),
    ("page", {"type": "integer", "minimum": 1}, "50 items per page"),
)]


def _change(summary: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"post": {"summary": summary, "parameters": [_REF], "requestBody": _body(properties, required),
                     "responses": {"200": _json({"type": "object"}), **_ERRORS}}}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "client-intake review API", "version": "1",
             "description": "Items, messages, corrections and workflow changes. Every call needs "
                            "`Authorization: Bearer <token>` (`intake user token EMAIL`); a PM's token sees only "
                            "their organizations' items, as in the web app."},
    "security": [{"bearer": []}],
    "paths": {
        "/api/items": {"get": {"summary": "The queue, filtered and paginated", "parameters": _QUERY,
                               "responses": {"200": _json(_ref("ItemPage")), **_ERRORS}}},
        "/api/items/{ref}": {"get": {"summary": "One item with its messages, events and scores",
                                     "parameters": [_REF], "responses": {"200": _json(_ref("Item")), **_ERRORS}}},
        "/api/items/{ref}/messages": {"get": {"summary": "The item's thread, oldest first", "parameters": [_REF],
                                              "responses": {"200": _json({"type": "object"}), **_ERRORS}}},
        "/api/items/{ref}/category": _change("Correct the category (kept as training data)",
                                             {"category": {"type": "string"}}, ["category"]),
        "/api/items/{ref}/status": _change("Move the item in its workflow", {"status": {"type": "string"}},
                                           ["status"]),
        "/api/items/{ref}/assignee": _change("Assign (null: nobody)", {"assignee": {"type": ["integer", "null"]}},
                                             ["assignee"]),
        "/api/items/{ref}/notes": _change("Add an internal note", {"text": {"type": "string"}}, ["text"]),
        "/api/items/{ref}/replies": _change(
            "Reply to the client, threaded, through the outbox: to the item's contact, copied to the participants "
            "in cc (each one of the item's reply_copies; any other address is refused)",
            {"text": {"type": "string"}, "cc": {"type": "array", "items": {"type": "string"}}}, ["text"]),
        "/api/corrections": {"get": {"summary": "The latest 500 category corrections and confirmations",
                                     "responses": {"200": _json({"type": "object"}), **_ERRORS}}},
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "Item": {"type": "object", "properties": {
                "ref": {"type": "string"}, "subject": {"type": "string"}, "category": {"type": "string"},
                "confidence": {"type": "number"}, "needs_review": {"type": "boolean"},
                "status": {"type": "string"},
                "sla_state": {"type": "string", "enum": ["", "on_track", "at_risk", "breached", "met"],
                              "description": "\"\": nothing measured, or not checked yet"},
                "sla_due_at": {"type": ["string", "null"], "format": "date-time",
                               "description": "when the first running SLA clock runs out (in the past when "
                               "breached), as the worker's last SLA check stored it; null when none runs"},
                "sla": {"type": "object", "description": "one item only: the policy, its calendar and the "
                        "acknowledge, first_response and resolution clocks (target and counted seconds, state)"},
                "reply_copies": {"type": "array", "description": "one item only: the thread's participants a "
                                 "reply may copy (the contact's colleagues who wrote in it, the addresses we "
                                 "wrote to), as {address, name}",
                                 "items": {"type": "object", "properties": {"address": {"type": "string"},
                                                                            "name": {"type": "string"}}}}}},
            "ItemPage": {"type": "object", "properties": {
                "items": {"type": "array", "items": _ref("Item")}, "total": {"type": "integer"},
                "page": {"type": "integer"}, "per_page": {"type": "integer"}}},
        },
    },
}
