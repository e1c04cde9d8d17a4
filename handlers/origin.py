"""Where a change came from, a `/accounts` message or the Home tab, carried by the form it opened.

An account box's click names its surface: the Home view, or a results message (its response_url,
and the page the box was drawn on, from the actions block id). The form keeps that in its
private_metadata, so that once the change is committed home.redraw can show it there.
"""

from __future__ import annotations

import json
from typing import Any

from handlers import parse
from handlers.account_box import place_of
from handlers.messages import Refused

ORIGIN = "origin"  # the private_metadata key


def origin_of(body: dict[str, Any]) -> dict[str, str] | None:
    """The surface a click came from: the Home tab and its page, or a results message and its page."""
    view = body.get("view") or {}
    if view.get("type") == "home":
        return {"home": str(view.get("private_metadata") or "")}
    action = (body.get("actions") or [{}])[0]
    place = place_of(action.get("block_id"))
    url = body.get("response_url")
    if place is not None and isinstance(url, str) and url:
        return {"response_url": url, "page": place}
    return None


def stamp(view: dict[str, Any], origin: dict[str, str] | None) -> dict[str, Any]:
    """The form with its origin added to its private_metadata (a bare account id becomes "account")."""
    if origin is None:
        return view
    raw = view.get("private_metadata") or "{}"
    fields = {"account": raw} if parse.database_id(raw) is not None else parse.metadata(raw)
    view["private_metadata"] = json.dumps({**fields, ORIGIN: origin})
    return view


def form_origin(view: dict[str, Any]) -> dict[str, str] | None:
    """The origin a submitted form carries, if any and well formed."""
    try:
        origin = parse.metadata((view or {}).get("private_metadata")).get(ORIGIN)
    except Refused:
        return None
    if not isinstance(origin, dict) or not all(isinstance(value, str) for value in origin.values()):
        return None
    return origin


def in_place_of(form: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """`form` drawn again in place of `shown`, carrying what it carried: the account and the origin."""
    return {**form, "private_metadata": shown.get("private_metadata", "")}
