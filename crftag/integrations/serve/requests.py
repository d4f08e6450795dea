"""Parsing a request body into items: every field checked, every refusal a 4xx of one line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crftag.calibration import Thresholds, check_threshold
from crftag.integrations.batches import Item
from crftag.integrations.serve.config import RequestError, ServeConfig
from crftag.io.readers import unwritable_token

FIELDS = ("text", "texts", "tokens")  # the fields that hold what to tag

# -- parsing a request ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ParsedRequest:
    items: list[Item]
    single: bool  # {"text": ...}: answered with one object, not {"results": [...]}


def check_content_type(content_type: str | None) -> None:
    """JSON in UTF-8 only: anything else is refused before the body is read."""
    mime, _, params = (content_type or "").partition(";")
    if mime.strip().lower() != "application/json":
        got = f"got {content_type!r}" if content_type else "none given"
        raise RequestError(415, "unsupported_media_type", f"Content-Type must be application/json ({got})")
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise RequestError(415, "unsupported_media_type",
                               f"only UTF-8 bodies are accepted (charset {value.strip()!r})")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes, config: ServeConfig) -> ParsedRequest:
    """Validate a /v1/tag body against the limits; every problem is a :class:`RequestError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, "invalid_utf8",
                           f"request body is not UTF-8 (invalid byte at offset {exc.start})") from None
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise RequestError(400, "invalid_json",
                           f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise RequestError(400, "invalid_json", "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, integers past Python's digit limit
        raise RequestError(400, "invalid_json", f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise _invalid("the body must be a JSON object with 'text', 'texts' or 'tokens'")
    unknown = sorted(set(obj) - {*FIELDS, "id", "min_confidence"})
    if unknown:
        raise _invalid(f"unknown field {unknown[0]!r} (fields: text, texts, tokens, id, min_confidence)")
    given = [k for k in FIELDS if k in obj]
    if len(given) != 1:
        raise _invalid("give exactly one of 'text', 'texts' or 'tokens'")
    field = given[0]
    if "id" in obj and field != "text":
        raise _invalid("'id' goes with 'text'; in 'texts' and 'tokens' give each item its own id")
    mc = _min_confidence(obj.get("min_confidence"))
    if field == "text":
        return ParsedRequest([_text_item(obj["text"], _id(obj.get("id"), "id"), mc, "text", config)], True)
    values = obj[field]
    if not isinstance(values, list):
        raise _invalid(f"'{field}' must be a list")
    if len(values) > config.max_texts:
        raise RequestError(413, "too_many_texts", f"{len(values)} items in '{field}'; the limit is "
                           f"{config.max_texts} per request (--max-texts)")
    make = _text_value if field == "texts" else _tokens_value
    return ParsedRequest([make(v, f"{field}[{i}]", mc, config) for i, v in enumerate(values)], False)


def _invalid(message: str) -> RequestError:
    return RequestError(422, "invalid_request", message)


MAX_THRESHOLD_TYPES = 100  # entity types one request's min_confidence object may name


def _min_confidence(value: Any) -> Thresholds:
    """A number from 0 to 1, or an object of them per entity type (``"*"``: the other types)."""
    if value is None:
        return None
    if isinstance(value, dict):
        if len(value) > MAX_THRESHOLD_TYPES or not all(isinstance(k, str) for k in value):
            raise _invalid(f"'min_confidence' may name at most {MAX_THRESHOLD_TYPES} entity types")
        try:
            return {k: check_threshold(v, f"'min_confidence.{k}'") for k, v in value.items()}
        except (TypeError, ValueError) as exc:
            raise _invalid(str(exc)) from None
    try:
        return check_threshold(value, "'min_confidence'")
    except (TypeError, ValueError):
        raise _invalid("'min_confidence' must be a number from 0 to 1, or an object of them per "
                       "entity type") from None


def _id(value: Any, where: str) -> str | int | None:
    if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _invalid(f"'{where}' must be a string or an integer")


def _check_length(chars: int, where: str, config: ServeConfig) -> None:
    if chars > config.max_text_chars:
        raise RequestError(413, "text_too_long", f"{where}: {chars} characters; the limit is "
                           f"{config.max_text_chars} (--max-text-chars)")


def _text_item(value: Any, sid: str | int | None, mc: Thresholds, where: str,
               config: ServeConfig) -> Item:
    if not isinstance(value, str):
        raise _invalid(f"'{where}' must be a string")
    _check_length(len(value), where, config)
    return Item(value, None, sid, mc)


def _text_value(value: Any, where: str, mc: Thresholds, config: ServeConfig) -> Item:
    if isinstance(value, dict):  # {"id": ..., "text": ...}, a JSONL input line
        if set(value) - {"id", "text"} or "text" not in value:
            raise _invalid(f"'{where}' must be a string or an object with 'text' and optional 'id'")
        return _text_item(value["text"], _id(value.get("id"), f"{where}.id"), mc, f"{where}.text", config)
    return _text_item(value, None, mc, where, config)


def _tokens_value(value: Any, where: str, mc: Thresholds, config: ServeConfig) -> Item:
    sid = None
    if isinstance(value, dict):  # {"id": ..., "tokens": [...]}
        if set(value) - {"id", "tokens"} or "tokens" not in value:
            raise _invalid(f"'{where}' must be a list of tokens or an object with 'tokens' and optional 'id'")
        sid = _id(value.get("id"), f"{where}.id")
        value, where = value["tokens"], f"{where}.tokens"
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise _invalid(f"'{where}' must be a list of non-empty strings")
    bad = next((j for j, t in enumerate(value) if unwritable_token(t)), None)
    if bad is not None:  # the rule of `crftag tag --input-format jsonl`: one for both
        raise _invalid(f"'{where}[{bad}]' is blank or holds a tab or line break")
    _check_length(sum(map(len, value)) + max(len(value) - 1, 0), where, config)
    return Item(None, value, sid, mc)
