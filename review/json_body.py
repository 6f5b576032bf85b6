"""Reads a request's JSON body within limits: its type, its size, its nesting, and no NUL in its strings."""
from __future__ import annotations

import json

from starlette.requests import Request

MAX_BYTES = 64 * 1024  # the app's limit on any request body, checked again here for callers outside the app
MAX_DEPTH = 20  # far more than any body the API takes; json.loads recurses and 20,000 levels overflow it


class InvalidBody(Exception):
    """A request body the API cannot read; carries the status (400, 413, 415) and the English message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON TEXT nests arrays and objects more than LIMIT levels deep (brackets in strings
    ignored)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _has_nul(value: object) -> bool:
    """Whether any string in VALUE (keys included) holds NUL; iterative, so any depth is safe."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python reads them, JSON has no such numbers


def parse_json(raw: bytes, example: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> object:
    """RAW (UTF-8 JSON) as Python values; InvalidBody when it is too large, too deep, not JSON or holds NUL.
    EXAMPLE, a valid body, is quoted in the messages."""
    if len(raw) > max_bytes:
        raise InvalidBody(413, f"body: larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidBody(400, f"body: not UTF-8; send {example}") from None
    # Counted before parsing: json.loads itself would hit Python's recursion limit (RecursionError, a 500).
    if deeper_than(text, max_depth):
        raise InvalidBody(400, f"body: nested more than {max_depth} levels deep; send {example}")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:  # JSONDecodeError, NaN, and integers of more than 4,300 digits
        raise InvalidBody(400, f"body: not valid JSON; send {example}") from None
    if _has_nul(value):
        raise InvalidBody(400, "body: a string holds a NUL character (\\u0000)")
    return value


async def json_body(request: Request, example: str) -> dict[str, object]:
    """The request's JSON object; InvalidBody (a 4xx answer) when it is not one. EXAMPLE is a valid body."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise InvalidBody(415, f"send Content-Type: application/json with a body like {example}")
    body = parse_json(await request.body(), example)
    if not isinstance(body, dict):
        raise InvalidBody(400, f"body: expected a JSON object like {example}")
    return body
