"""The usage API's OpenAPI document: the contract the fuzzer checks the app against."""

from __future__ import annotations

from typing import Any

from store.models import REFERENCE_MAX_LENGTH
from store.usage import KEY_MAX_LENGTH, Reason

MAX_ITEMS = 500  # per POST /api/usage; a platform sends more as several requests
MAX_BODY_BYTES = 1_000_000  # 500 items of the longest keys fit with room to spare

# Whole-request errors, by code; per-item refusals are the Reason values.
ERRORS = (
    "unauthorized",
    "not_found",
    "unknown_reference",
    "method_not_allowed",
    "unsupported_media_type",
    "body_too_large",
    "invalid_json",
    "invalid_batch",
    "too_many_items",
    "internal_error",
    "unavailable",
)

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "enum": list(ERRORS)},
        "message": {"type": "string"},
    },
}

ITEM = {
    "type": "object",
    "required": ["reference", "credits", "key"],
    "properties": {
        "reference": {"type": "string", "maxLength": REFERENCE_MAX_LENGTH, "example": "EX0123456"},
        "credits": {"type": "integer", "minimum": 1, "description": "Credits used; taken from the balance."},
        "key": {
            "type": "string",
            "minLength": 1,
            "maxLength": KEY_MAX_LENGTH,
            "description": "Your id for this usage: the item is applied at most once per key.",
        },
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the messages were sent (ISO 8601; UTC if no offset).",
        },
    },
}

RESULT = {
    "type": "object",
    "required": ["index", "key", "status"],
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "key": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": ["applied", "refused"]},
        "replayed": {"type": "boolean", "description": "True when this key had been applied before."},
        "reference": {"type": "string"},
        "credits": {"type": "integer"},
        "occurred_at": {"type": "string", "format": "date-time", "nullable": True},
        "balance_after": {"type": "integer", "minimum": 0},
        "reason": {"type": "string", "enum": [reason.value for reason in Reason]},
        "message": {"type": "string"},
    },
}

ACCOUNT = {
    "type": "object",
    "required": ["reference", "name", "active", "balance", "reminder"],
    "properties": {
        "reference": {"type": "string"},
        "name": {"type": "string"},
        "active": {"type": "boolean"},
        "balance": {"type": "integer", "minimum": 0},
        "reminder": {
            "type": "object",
            "required": ["enabled", "level", "below_level"],
            "properties": {
                "enabled": {"type": "boolean"},
                "level": {"type": "integer", "minimum": 0},
                "below_level": {"type": "boolean"},
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.0 document served at /api/openapi.json."""
    auth = {
        "401": _error("Missing or wrong bearer token."),
        "404": _error("The API is off (no USAGE_API_TOKEN)."),
        "405": _error("Wrong method."),
    }
    failures = {
        "500": _error("Failed on our side (internal_error); nothing was applied."),
        "503": {
            **_error("The database is unavailable (unavailable); nothing was changed. Send it again later."),
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "admin-bot usage API",
            "version": "1",
            "description": (
                "Record credits used by sending messages, and check an account's balance before sending. "
                f"A batch holds at most {MAX_ITEMS} items; each is applied at most once per key, "
                "or refused on its own with a machine-readable reason."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/usage": {
                "post": {
                    "operationId": "recordUsage",
                    "summary": f"Record a batch of 1 to {MAX_ITEMS} usage items.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_ITEMS,
                                    "items": {"$ref": "#/components/schemas/UsageItem"},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Every item's outcome, in request order.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["applied", "refused", "results"],
                                        "properties": {
                                            "applied": {"type": "integer", "minimum": 0},
                                            "refused": {"type": "integer", "minimum": 0},
                                            "results": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/UsageResult"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error("The body is not JSON."),
                        **auth,
                        "413": _error(
                            f"More than {MAX_ITEMS} items, or a body over {MAX_BODY_BYTES:,} bytes."
                        ),
                        "415": _error("Not application/json."),
                        "422": _error("Not a non-empty JSON array."),
                        **failures,
                    },
                }
            },
            "/api/accounts/{reference}": {
                "get": {
                    "operationId": "getAccount",
                    "summary": "An account's balance and reminder level.",
                    "parameters": [
                        {
                            "name": "reference",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "maxLength": REFERENCE_MAX_LENGTH},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The account.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Account"}}
                            },
                        },
                        **auth,
                        "404": _error("No such account, or the API is off."),
                        **failures,
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {
                        "200": {"description": "The OpenAPI document.", "content": {"application/json": {}}},
                        "404": auth["404"],
                        "405": auth["405"],
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"UsageItem": ITEM, "UsageResult": RESULT, "Account": ACCOUNT, "Error": ERROR},
        },
    }
