"""Validate what the bot sends against Slack's own Block Kit limits, via slack_sdk.models."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCK_LIMIT = 50


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """Every block parses, round-trips and passes slack_sdk's validation."""
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()
        assert block.to_dict() == raw


def assert_valid_view(view: dict[str, Any]) -> None:
    """A modal or home view parses, round-trips and passes slack_sdk's validation."""
    keys = {
        "type",
        "title",
        "blocks",
        "submit",
        "close",
        "callback_id",
        "private_metadata",
        "external_id",
        "clear_on_close",
        "notify_on_close",
    }
    mine = {key: value for key, value in view.items() if key in keys}
    parsed = View(**mine)
    parsed.validate_json()
    assert parsed.to_dict() == mine


def visible_text(message: dict[str, Any] | list[Any]) -> str:
    """All the text a user would read in a message, modal or list of blocks."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for key, value in node.items():
                if key not in ("action_id", "block_id", "value", "private_metadata"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if isinstance(message, dict) and isinstance(message.get("text"), str):
        parts.append(message["text"])
    walk(message.get("blocks", []) if isinstance(message, dict) and "blocks" in message else message)
    return "\n".join(parts)
