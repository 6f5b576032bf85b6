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
_ADMIN_ERRORS = {"400": _ERRORS["400"], "401": _ERRORS["401"],
                 "403": _json(_ref("Error"), "The token's owner is not an admin")}
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
             "description": "Items, messages, corrections, workflow changes and (admins) the webhook "
                            "delivery log. Every call needs "
                            "`Authorization: Bearer <token>` (`intake user token EMAIL`); a PM's token sees "
                            "only their organizations' items, as in the web app."},
    "security": [{"bearer": []}],
    "paths": {
        "/api/items": {"get": {"summary": "The queue, filtered and paginated", "parameters": _QUERY,
                               "responses": {"200": _json(_ref("ItemPage")), **_ERRORS}}},
        "/api/items/{ref}": {"get": {"summary": "One item with its messages, events and scores",
                                     "parameters": [_REF], "responses": {"200": _json(_ref("Item")),
                                                                         **_ERRORS}}},
        "/api/items/{ref}/messages": {"get": {"summary": "The item's thread, oldest first",
                                              "parameters": [_REF],
                                              "responses": {"200": _json({"type": "object"}), **_ERRORS}}},
        "/api/items/{ref}/category": _change("Correct the category (kept as training data)",
                                             {"category": {"type": "string"}}, ["category"]),
        "/api/items/{ref}/status": _change("Move the item in its workflow", {"status": {"type": "string"}},
                                           ["status"]),
        "/api/items/{ref}/assignee": _change("Assign (null: nobody)",
                                             {"assignee": {"type": ["integer", "null"]}},
                                             ["assignee"]),
        "/api/items/{ref}/notes": _change("Add an internal note", {"text": {"type": "string"}}, ["text"]),
        "/api/items/{ref}/replies": _change(
            "Reply to the client, threaded, through the outbox: to the item's contact, copied to the "
            "participants in cc (each one of the item's reply_copies; any other address is refused)",
            {"text": {"type": "string"}, "cc": {"type": "array", "items": {"type": "string"}}}, ["text"]),
        "/api/items/{ref}/status-link": {
            "post": {"summary": "A new link to the client's status page: every earlier link of the item is "
                                "revoked; the new one (url and token) is shown in this answer only, since "
                                "only its SHA-256 is kept", "parameters": [_REF],
                     "responses": {"201": _json(_ref("StatusLink")), **_ERRORS}},
            "delete": {"summary": "Revoke every link to the item's status page (they answer 404 at once)",
                       "parameters": [_REF],
                       "responses": {"200": _json({"type": "object", "properties": {
                           "ref": {"type": "string"}, "revoked": {"type": "integer"}}}), **_ERRORS}}},
        "/api/items/{ref}/survey": {"get": {"summary": "The item's satisfaction survey and rating (null: "
                                                       "none)",
                                            "parameters": [_REF], "responses": {"200": _json({
                                                "type": "object", "properties": {
                                                    "ref": {"type": "string"},
                                                    "survey": {"anyOf": [_ref("Survey"),
                                                                         {"type": "null"}]}}}),
                                                **_ERRORS}}},
        "/api/surveys": {"get": {"summary": "The latest 500 surveys the caller may see; rated=1: rated ones "
                                            "only",
                                 "parameters": [{"name": "rated", "in": "query",
                                                 "schema": {"enum": ["0", "1"]}}],
                                 "responses": {"200": _json({"type": "object", "properties": {
                                     "surveys": {"type": "array", "items": _ref("Survey")}}}), **_ERRORS}}},
        "/api/corrections": {"get": {"summary": "The latest 500 category corrections and confirmations",
                                     "responses": {"200": _json({"type": "object"}), **_ERRORS}}},
        "/api/webhooks": {"get": {
            "summary": "Admins only: the chat and webhook targets ([[notify]]) with their delivery counts",
            "responses": {"200": _json({"type": "object", "properties": {
                "targets": {"type": "array", "items": _ref("WebhookTarget")}}}),
                **_ADMIN_ERRORS}}},
        "/api/webhooks/deliveries": {"get": {
            "summary": "Admins only: the delivery log, newest first, 50 a page",
            "parameters": [{"name": "target", "in": "query", "required": False, "schema": {"type": "string"},
                            "description": "one target's deliveries (its [[notify]] name)"},
                           {"name": "status", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["pending", "sent", "failed"]}},
                           {"name": "page", "in": "query", "required": False,
                            "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": _json(_ref("DeliveryPage")), **_ADMIN_ERRORS}}},
        "/api/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": _json({"type": "object"})}}},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "Item": {"type": "object", "properties": {
                "ref": {"type": "string"}, "subject": {"type": "string"}, "category": {"type": "string"},
                "confidence": {"type": "number"},
                "confidence_band": {"type": "string", "enum": ["high", "medium", "low"],
                                    "description": "low: below the review threshold the item was "
                                    "flagged by (classifier.review_threshold, or its model version's own for "
                                    "its language where higher); medium: up to 95%; high: from 95%"},
                "needs_review": {"type": "boolean"},
                "status": {"type": "string"},
                "sla_state": {"type": "string", "enum": ["", "on_track", "at_risk", "breached", "met"],
                              "description": "\"\": nothing measured, or not checked yet"},
                "sla_due_at": {"type": ["string", "null"], "format": "date-time",
                               "description": "when the first running SLA clock runs out (in the past when "
                               "breached), as the worker's last SLA check stored it; null when none runs"},
                "sla": {"type": "object", "description": "one item only: the policy, its calendar and the "
                        "acknowledge, first_response and resolution clocks (target and counted seconds, "
                        "state)"},
                "reply_copies": {"type": "array", "description": "one item only: the thread's participants a "
                                 "reply may copy (the contact's colleagues who wrote in it, the addresses we "
                                 "wrote to), as {address, name}",
                                 "items": {"type": "object", "properties": {"address": {"type": "string"},
                                                                            "name": {"type": "string"}}}}}},
            "StatusLink": {"type": "object", "properties": {
                "ref": {"type": "string"}, "url": {"type": "string",
                                                   "description": "{web.public_url}/s/<token>"},
                "token": {"type": "string"}, "revoked": {"type": "integer"}}},
            "Survey": {"type": "object", "properties": {
                "ref": {"type": "string"},
                "status": {"type": "string", "enum": ["scheduled", "sent", "cancelled", "suppressed"],
                           "description": "scheduled: in the outbox (sent once its delay passed); sent: the "
                                          "SMTP server took it; cancelled: the client wrote again first; "
                                          "suppressed: not sent (opted out, no address, acknowledgment "
                                          "suppressed)"},
                "scheduled_for": {"type": "string", "format": "date-time"},
                "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "rated_at": {"type": ["string", "null"], "format": "date-time"},
                "comment": {"type": "string"}}},
            "WebhookTarget": {"type": "object", "properties": {
                "name": {"type": "string"}, "target": {"type": "string",
                                                       "description": "webhook, slack, teams, "
                                                       "dingtalk, feishu or wecom; \"\" when no longer "
                                                       "configured"},
                "configured": {"type": "boolean"}, "pending": {"type": "integer"},
                "sent": {"type": "integer"},
                "failed": {"type": "integer"}, "last_sent_at": {"type": ["string", "null"],
                                                                "format": "date-time"}}},
            "Delivery": {"type": "object", "properties": {
                "id": {"type": "integer"},
                "delivery_id": {"type": "string",
                                "description": "sent as X-Intake-Delivery: a repeat has the same"},
                "target": {"type": "string"}, "kind": {"type": "string"},
                "event": {"type": "string", "enum": ["new_item", "needs_review", "sla_at_risk",
                                                     "sla_breached",
                                                     "negative_csat", "change_approved", "change_rejected"]},
                "ref": {"type": ["string", "null"]},
                "status": {"type": "string", "enum": ["pending", "sent", "failed"]},
                "attempts": {"type": "integer"}, "http_status": {"type": ["integer", "null"]},
                "last_error": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                "sent_at": {"type": ["string", "null"], "format": "date-time"},
                "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
                "payload": {"description": "the JSON body sent (without the per-call signature)"}}},
            "DeliveryPage": {"type": "object", "properties": {
                "deliveries": {"type": "array", "items": _ref("Delivery")}, "total": {"type": "integer"},
                "page": {"type": "integer"}, "per_page": {"type": "integer"}}},
            "ItemPage": {"type": "object", "properties": {
                "items": {"type": "array", "items": _ref("Item")}, "total": {"type": "integer"},
                "page": {"type": "integer"}, "per_page": {"type": "integer"}}},
        },
    },
}
