"""HTTP API: `POST /items` creates an item, `GET /items/:id` reads one.

Fired by the engine's `http` trigger with an `HttpRequest` (see `src/lib/http.py`). Items are kept
in engine state under the scope `my-worker::items`, so every replica of this worker
sees the same items and a `state` trigger can react to them.

HTTP delivery is at least once from the client's point of view: a create whose answer was lost
(a timeout, a worker stopped mid-request) may have stored its item, and the client cannot tell.
A client that sends an `Idempotency-Key` header can retry safely: every request with the same key
gets the same answer and stores one item, even when the copies arrive at the same time.
"""

import hashlib
import unicodedata
import uuid
from datetime import datetime, timezone
from typing import Any, TypedDict

from src.lib.http import HttpRequest, HttpResponse, error_response, hide_unexpected_errors
from src.lib.iii_client import iii, logger

API_PATH = "/items"
CREATE_ID = "my-worker::items::create"
GET_ID = "my-worker::items::get"
STATE_SCOPE = "my-worker::items"
# Which item each Idempotency-Key created, kept beside the items.
KEYS_SCOPE = "my-worker::items::idempotency-keys"
MAX_NAME_LENGTH = 200
MAX_KEY_LENGTH = 200
# Letters with these joiners are words in some scripts and emoji sequences; other format
# characters (bidi overrides, zero-width spaces) only hide or reorder text.
JOINERS = {"\u200c", "\u200d"}


class Item(TypedDict):
    id: str
    name: str
    created_at: str


def hidden_character(name: str) -> str | None:
    """The first control, format or separator character a name must not hold, if any."""
    for character in name:
        category = unicodedata.category(character)
        if (category[0] == "C" and character not in JOINERS) or category in ("Zl", "Zp"):
            return character
    return None


def parse_new_item(body: Any) -> tuple[str | None, str]:
    """The item name from a create request's body, or None and the reason it is refused."""
    if not isinstance(body, dict):
        return None, 'send a JSON object (Content-Type: application/json), e.g. {"name": "..."}'
    name = body.get("name")
    if not isinstance(name, str):
        return None, "'name' must be a non-empty string"
    name = name.strip()
    hidden = hidden_character(name)
    if hidden is not None:
        return None, f"'name' must not hold control or invisible characters (U+{ord(hidden):04X})"
    if not any(unicodedata.category(c)[0] in "LNPS" for c in name):
        return None, "'name' must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return None, f"'name' must be at most {MAX_NAME_LENGTH} characters"
    return name, ""


def idempotency_key(request: HttpRequest) -> tuple[str | None, str]:
    """The request's Idempotency-Key (None without one), or None and why it is refused."""
    key = request.get("headers", {}).get("idempotency-key")
    if key is None:
        return None, ""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        return None, f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters"
    return key, ""


def new_item(name: str) -> Item:
    now = datetime.now(timezone.utc).isoformat()
    return {"id": uuid.uuid4().hex, "name": name, "created_at": now}


def created(item: Item) -> HttpResponse:
    return {"status_code": 201, "body": item, "headers": {"location": f"{API_PATH}/{item['id']}"}}


async def store(item: Item) -> None:
    await iii.trigger_async(
        {
            "function_id": "state::set",
            "payload": {"scope": STATE_SCOPE, "key": item["id"], "value": item},
        }
    )


async def claim(key: str, candidate: Item) -> Item:
    """The item `key` stands for: the first one ever appended under it. The engine applies a
    `state::update` in one step, so requests racing with one key all get the same item."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    claimed = await iii.trigger_async(
        {
            "function_id": "state::update",
            "payload": {
                "scope": KEYS_SCOPE,
                "key": digest,
                "ops": [{"type": "append", "path": "items", "value": candidate}],
            },
        }
    )
    first: Item = claimed["new_value"]["items"][0]
    return first


@hide_unexpected_errors
async def create_item(request: HttpRequest) -> HttpResponse:
    name, reason = parse_new_item(request.get("body"))
    if name is None:
        return error_response(400, reason)
    key, reason = idempotency_key(request)
    if reason:
        return error_response(400, reason)
    item = new_item(name)
    if key is None:
        await store(item)
        logger.info("Item created", {"id": item["id"]})
        return created(item)
    first = await claim(key, item)
    if first["name"] != name:
        return error_response(422, "this Idempotency-Key was used for another item")
    if first["id"] == item["id"]:
        await store(item)
        logger.info("Item created", {"id": item["id"]})
    elif await read(first["id"]) is None:  # the first request is still writing it, or stopped
        await store(first)
    return created(first)


async def read(item_id: str) -> Any:
    return await iii.trigger_async(
        {"function_id": "state::get", "payload": {"scope": STATE_SCOPE, "key": item_id}}
    )


@hide_unexpected_errors
async def get_item(request: HttpRequest) -> HttpResponse:
    item_id = request.get("path_params", {}).get("id", "")
    item = await read(item_id)
    if item is None:
        return error_response(404, f"no item with id {item_id!r}")
    return {"status_code": 200, "body": item}


iii.register_function(CREATE_ID, create_item, description=f"Create an item (POST {API_PATH})")
iii.register_trigger(
    {
        "type": "http",
        "function_id": CREATE_ID,
        "config": {"api_path": API_PATH, "http_method": "POST"},
    }
)

iii.register_function(GET_ID, get_item, description=f"Read an item (GET {API_PATH}/:id)")
iii.register_trigger(
    {
        "type": "http",
        "function_id": GET_ID,
        "config": {"api_path": f"{API_PATH}/:id", "http_method": "GET"},
    }
)
