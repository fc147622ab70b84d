"""Build a JSON value that satisfies a (simple) JSON schema, for structured outputs and tool calls.

Supports objects (all properties filled), arrays (one item), enum/const, anyOf/oneOf/allOf (first
branch), nullable type lists, numeric minimums and local ``$ref`` (``#/$defs/...``,
``#/definitions/...``) as produced by pydantic. The answer text goes into the first string slot;
other strings get their property name. A number/integer property named like ``answer``, ``result``,
``final`` or ``total`` gets the answer's final number when it has one.
"""

from __future__ import annotations

from typing import Any

from tokenproof_devkit.provider.text import final_number

_NUMERIC_NAMES = ("answer", "result", "final", "total")


def _resolve(schema: dict, root: dict, seen: int = 0) -> dict:
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        target: Any = root
        if ref.startswith("#/"):
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
        else:
            target = {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema if isinstance(schema, dict) else {}


class _Filler:
    def __init__(self, root: dict, text: str) -> None:
        self.root = root
        self.text = text
        self.text_used = False

    def string(self, name: str) -> str:
        if not self.text_used:
            self.text_used = True
            return self.text
        return name or "value"

    def value(self, schema: dict | None, name: str = "", depth: int = 0) -> Any:
        schema = _resolve(schema or {}, self.root)
        if depth > 12:
            return None
        if schema.get("enum"):
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf", "allOf"):
            branches = [b for b in schema.get(key) or [] if _resolve(b, self.root).get("type") != "null"]
            if branches:
                return self.value(branches[0], name, depth + 1)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            return {prop: self.value(sub, prop, depth + 1) for prop, sub in (schema.get("properties") or {}).items()}
        if kind == "array":
            count = max(1, int(schema.get("minItems", 1)))
            return [self.value(schema.get("items"), name, depth + 1) for _ in range(count)]
        if kind in ("integer", "number") and any(word in name.lower() for word in _NUMERIC_NAMES):
            found = final_number(self.text)
            try:
                return int(float(found)) if kind == "integer" else float(found)
            except (TypeError, ValueError):
                pass
        if kind == "integer":
            return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1))
        if kind == "number":
            return float(schema.get("minimum", 1.0))
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.string(name)


def value_for_schema(schema: dict | None, text: str) -> Any:
    """A value valid under ``schema`` carrying ``text`` in its first string slot."""
    schema = schema or {}
    return _Filler(schema, text).value(schema)
