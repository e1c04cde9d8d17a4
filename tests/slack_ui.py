"""Find what a user would click or fill in by what it says, not by the bot's internal ids.

Tests that drive many features (the outage test, the bad-input corpus) press "Rename" on a box
and type into "New name", so they keep working when the bot's block and action ids move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests import slack_requests

Payload = dict[str, Any]


@dataclass(frozen=True)
class Button:
    action_id: str
    value: str | None
    text: str


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def buttons(blocks: Any) -> list[Button]:
    """Every button in a message's or view's blocks, in order."""
    return [
        Button(node["action_id"], node.get("value"), node["text"]["text"])
        for node in _walk(blocks)
        if node.get("type") == "button"
    ]


def button(blocks: Any, label: str, index: int = 0) -> Button:
    """The index-th button whose text contains label."""
    found = [b for b in buttons(blocks) if label.lower() in b.text.lower()]
    assert len(found) > index, f"no button {label!r} among {[b.text for b in buttons(blocks)]}"
    return found[index]


@dataclass(frozen=True)
class Field:
    block_id: str
    action_id: str
    kind: str  # the element's type


def fields(view: Payload) -> dict[str, Field]:
    """A view's input blocks by their label."""
    return {
        block["label"]["text"]: Field(
            block["block_id"], block["element"]["action_id"], block["element"]["type"]
        )
        for block in view.get("blocks", [])
        if block.get("type") == "input"
    }


def state(field: Field, value: Any) -> Payload:
    """The element state Slack sends for `value` typed or chosen in `field`."""
    if field.kind == "plain_text_input":
        return slack_requests.plain_text(value)
    if field.kind == "static_select":
        return slack_requests.static_select(value)
    if field.kind == "external_select":
        return slack_requests.external_select(value)
    if field.kind == "multi_users_select":
        return slack_requests.multi_users_select(value)
    if field.kind == "multi_conversations_select":
        return slack_requests.multi_conversations_select(value or [])
    if field.kind == "users_select":
        return slack_requests.users_select(value)
    if field.kind == "checkboxes":
        return slack_requests.checkboxes(value)
    if field.kind == "radio_buttons":
        return {"type": "radio_buttons", "selected_option": slack_requests.option(value) if value else None}
    if field.kind == "datepicker":
        return slack_requests.datepicker(value)
    raise AssertionError(f"no state builder for {field.kind}")


def filled(view: Payload, values: dict[str, Any]) -> Payload:
    """State values for a submission: every input left as Slack would send it, some filled in.

    `values` maps a label (or the start of one) to what the user typed or chose.
    """
    found = fields(view)
    result: Payload = {}
    for label, field in found.items():
        chosen = next((value for wanted, value in values.items() if label.startswith(wanted)), None)
        if chosen is None:
            chosen = _initial(view, field)
        result.setdefault(field.block_id, {})[field.action_id] = state(field, chosen)
    unknown = [wanted for wanted in values if not any(label.startswith(wanted) for label in found)]
    assert not unknown, f"no field {unknown} among {list(found)}"
    return result


def _initial(view: Payload, field: Field) -> Any:
    block = next(b for b in view["blocks"] if b.get("block_id") == field.block_id)
    element = block["element"]
    if "initial_value" in element:
        return element["initial_value"]
    if "initial_option" in element:
        return element["initial_option"]["value"]
    if "initial_options" in element:
        return [option["value"] for option in element["initial_options"]]
    if "initial_users" in element:
        return element["initial_users"]
    return [] if field.kind in ("multi_users_select", "checkboxes") else None
