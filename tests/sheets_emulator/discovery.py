"""Check Sheets v4 requests against Google's discovery document, as Google's front end does.

Real Google answers a request body with an unknown field, a value of the wrong JSON type or an
unknown enum value with `400 INVALID_ARGUMENT` before the Sheets backend sees it. This module
reproduces that check for the emulator from the discovery document in the shared reference data
(`../shared/sheets/sheets.v4.json` next to the repo root, or the file named by the environment
variable `PARKDESK_SHEETS_DISCOVERY`). The document is never copied into the repo: without it,
validation is disabled with one logged warning and every check passes.

Public interface:

- `validate_request(method_id, body) -> list[str]`: problems in a request body, in Google's words,
  for example `Invalid JSON payload received. Unknown name "foo" at
  'requests[0].add_sheet.properties': Cannot find field.`
- `validate_query(method_id, params) -> list[str]`: problems in the query string parameters.
- `method_for(http_method, path) -> str | None` and `match_method(http_method, path)`: which
  discovery method (`sheets.spreadsheets.values.append` ...) a request path calls.
- `response_schema(method_id) -> dict | None`: the schema the method answers with.
- `discovery_available() -> bool`, `load_discovery()`, `reload_discovery()`.

What the checks follow (Google's JSON-to-proto transcoder, proto3 JSON rules):
- Field names are accepted in lowerCamelCase (`addSheet`) and in the proto's snake_case
  (`add_sheet`); error paths are always written in snake_case with `[index]` for list items.
- Explicit JSON `null` is accepted anywhere and means "not set" (gspread sends nulls).
- Integers (`int32`, `int64`) may be JSON numbers with no fraction or strings holding one;
  numbers (`double`, `float`) may be numbers, numeric strings, `"NaN"`, `"Infinity"`,
  `"-Infinity"`; booleans are `true`/`false` or the strings the transcoder takes (`"True"`,
  `"false"`, `"1"` ...); enums are their names (or their numbers).
- A repeated field given a single value is taken as a one-element list (the transcoder does
  this), so the value is checked as one element, at the field's path without an index.
- For `values.update`/`values.append` the body is the request's `data` field and for
  `spreadsheets.create` its `spreadsheet` field, so Google's paths start there
  (`'data.values[0]'`, `'spreadsheet.properties'`).
- The type name Google prints for an enum (`type.googleapis.com/google.apps.sheets.v4.Dimension`)
  is not in the discovery document; it is derived from the enum's `..._UNSPECIFIED` value or the
  field name, which gives Google's name for the enums ParkDesk uses (ValueInputOption,
  ValueRenderOption, DateTimeRenderOption, Dimension) and a close guess for the rest.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DISCOVERY_ENV = "PARKDESK_SHEETS_DISCOVERY"
DEFAULT_RELATIVE_PATH = Path("..") / "shared" / "sheets" / "sheets.v4.json"
REPO_ROOT = Path(__file__).resolve().parents[2]

PROTO_PREFIX = "type.googleapis.com/google.apps.sheets.v4."
LIST_VALUE_TYPE = "type.googleapis.com/google.protobuf.ListValue"
UNKNOWN_FIELD = 'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
NOT_REPEATING = (
    'Invalid JSON payload received. Unknown name "{name}"{at}: '
    "Proto field is not repeating, cannot start list."
)
INVALID_VALUE = "Invalid value at '{path}' ({type}), {value}"
OBJECT_ON_SCALAR = "Starting an object on a scalar field"
ROOT_NOT_MESSAGE = 'Invalid JSON payload received. Unknown name "": Root element must be a message.'
UNKNOWN_QUERY = (
    'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
    "Field '{name}' could not be found in request message."
)

# Methods whose body is one field of the proto request rather than the whole request ("*").
BODY_FIELD_BY_SCHEMA = {"ValueRange": "data", "Spreadsheet": "spreadsheet"}
# Proto enum names that cannot be derived from the enum's first value.
ENUM_NAME_BY_FIRST_VALUE = {
    "INPUT_VALUE_OPTION_UNSPECIFIED": "ValueInputOption",
    "FORMATTED_VALUE": "ValueRenderOption",
    "SERIAL_NUMBER": "DateTimeRenderOption",
}
SCALAR_TYPE_NAMES = {
    ("integer", "int32"): "TYPE_INT32",
    ("integer", "uint32"): "TYPE_UINT32",
    ("integer", None): "TYPE_INT32",
    ("string", "int64"): "TYPE_INT64",
    ("string", "uint64"): "TYPE_UINT64",
    ("integer", "int64"): "TYPE_INT64",
    ("integer", "uint64"): "TYPE_UINT64",
    ("number", "double"): "TYPE_DOUBLE",
    ("number", "float"): "TYPE_FLOAT",
    ("number", None): "TYPE_DOUBLE",
    ("boolean", None): "TYPE_BOOL",
    ("string", None): "TYPE_STRING",
}
INTEGER_RANGES = {
    "TYPE_INT32": (-(2**31), 2**31 - 1),
    "TYPE_UINT32": (0, 2**32 - 1),
    "TYPE_INT64": (-(2**63), 2**63 - 1),
    "TYPE_UINT64": (0, 2**64 - 1),
}
TRUE_STRINGS = {"true", "t", "yes", "y", "1"}
FALSE_STRINGS = {"false", "f", "no", "n", "0"}
SPECIAL_FLOATS = {"NaN", "Infinity", "-Infinity"}
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

log = logging.getLogger("parkdesk.tests.sheets_emulator.discovery")


# --- loading ---------------------------------------------------------------------------------


def find_discovery_path() -> Path | None:
    """Return the discovery document's path: $PARKDESK_SHEETS_DISCOVERY, else ../shared/..."""
    candidates = []
    if os.environ.get(DISCOVERY_ENV):
        named = Path(os.environ[DISCOVERY_ENV])
        if not named.is_file():
            log.warning("%s=%s is not a file; trying %s", DISCOVERY_ENV, named, DEFAULT_RELATIVE_PATH)
        candidates.append(named)
    candidates.append(REPO_ROOT / DEFAULT_RELATIVE_PATH)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=1)
def load_discovery() -> dict | None:
    """Read and cache the discovery document; None (and one warning) when it cannot be found."""
    path = find_discovery_path()
    if path is None:
        log.warning(
            "Sheets discovery document not found (set %s or provide %s next to the repo): "
            "request validation is disabled",
            DISCOVERY_ENV,
            DEFAULT_RELATIVE_PATH,
        )
        return None
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def reload_discovery() -> dict | None:
    """Forget the cached document (after changing $PARKDESK_SHEETS_DISCOVERY) and load again."""
    load_discovery.cache_clear()
    _index_methods.cache_clear()
    return load_discovery()


def discovery_available() -> bool:
    """True when the document was found, i.e. validation is active."""
    return load_discovery() is not None


@functools.lru_cache(maxsize=1)
def _index_methods() -> dict[str, dict]:
    """All methods of the document by id (`sheets.spreadsheets.values.get` ...)."""
    document = load_discovery()
    methods: dict[str, dict] = {}
    if document is None:
        return methods

    def collect(resources: dict) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                methods[method["id"]] = method
            collect(resource.get("resources", {}))

    collect(document.get("resources", {}))
    return methods


def _method(method_id: str) -> dict:
    try:
        return _index_methods()[method_id]
    except KeyError:
        raise ValueError(f"unknown Sheets discovery method id: {method_id!r}") from None


def _schema(name: str) -> dict:
    return load_discovery()["schemas"][name]


# --- routing ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _compile_template(template: str) -> tuple[re.Pattern, tuple[str, ...]]:
    """`v4/spreadsheets/{spreadsheetId}/values/{range}:append` -> regex and variable names."""
    names: list[str] = []
    pattern = ""
    for literal, expression in re.findall(r"([^{]*)(?:\{([^}]*)\})?", template):
        pattern += re.escape(literal)
        if expression:
            names.append(expression.lstrip("+"))
            # `{+x}` may span slashes; the range may too (gspread leaves "/" unencoded).
            spans_slashes = expression.startswith("+") or expression == "range"
            pattern += "(.+?)" if spans_slashes else "([^/]+?)"
    return re.compile(pattern + r"\Z"), tuple(names)


def match_method(http_method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """Return (method id, raw path parameters) for a request path, or None.

    `path` is the URL path (a full URL or a query string is tolerated), still percent-encoded:
    `/v4/spreadsheets/ID/values/%27Sheet1%27:append` -> ("sheets.spreadsheets.values.append",
    {"spreadsheetId": "ID", "range": "%27Sheet1%27"}). Templates with a custom verb (":append")
    are tried before templates without, so a verb is never swallowed by `{range}`.
    """
    document = load_discovery()
    if document is None:
        return None
    path = urlsplit(path).path.lstrip("/")
    base = (document.get("servicePath") or "").strip("/")
    if base and path.startswith(base + "/"):
        path = path[len(base) + 1 :]
    candidates = [
        method
        for method in _index_methods().values()
        if method.get("httpMethod", "").upper() == http_method.upper()
    ]
    candidates.sort(key=lambda method: ":" not in method.get("flatPath", method["path"]))
    for method in candidates:
        for template in {method.get("flatPath", method["path"]), method["path"]}:
            regex, names = _compile_template(template)
            found = regex.match(path)
            if found:
                return method["id"], dict(zip(names, found.groups()))
    return None


def method_for(http_method: str, path: str) -> str | None:
    """The discovery method id a request calls, e.g. "sheets.spreadsheets.batchUpdate"."""
    matched = match_method(http_method, path)
    return matched[0] if matched else None


def response_schema(method_id: str) -> dict | None:
    """The schema the method answers with (`AppendValuesResponse` ...), None without a body."""
    if not discovery_available():
        return None
    reference = _method(method_id).get("response", {}).get("$ref")
    return _schema(reference) if reference else None


# --- body validation -------------------------------------------------------------------------


def validate_request(method_id: str, body: dict | None) -> list[str]:
    """Check a request body against the method's request schema; return Google's messages.

    An empty list means Google's front end would accept the body. Only the JSON-to-proto step is
    checked (names, types, enum values), not Sheets' own rules (a range that cannot be parsed,
    a sheet id that does not exist), which the emulator's handlers answer.
    """
    if not discovery_available():
        return []
    reference = _method(method_id).get("request", {}).get("$ref")
    if reference is None or body is None:
        return []
    if not isinstance(body, dict):
        return [ROOT_NOT_MESSAGE]
    problems: list[str] = []
    root_path = BODY_FIELD_BY_SCHEMA.get(reference, "")
    _check_message(body, reference, root_path, problems)
    return problems


def _check_message(value: dict, schema_name: str, path: str, problems: list[str]) -> None:
    properties = _schema(schema_name).get("properties", {})
    by_snake = {to_snake_case(name): name for name in properties}
    for key, item in value.items():
        name = key if key in properties else by_snake.get(key)
        if name is None:
            problems.append(UNKNOWN_FIELD.format(name=key, at=_at(path)))
            continue
        _check_field(item, properties[name], key, _join(path, to_snake_case(name)), path, problems)


def _check_field(
    value: Any, schema: dict, key: str, path: str, parent: str, problems: list[str]
) -> None:
    """Check one field's value; `key` is the name as sent, `parent` the enclosing path."""
    if value is None:
        return
    if schema.get("type") == "array":
        _check_repeated(value, schema["items"], key, path, parent, problems)
    elif schema.get("type") == "object" and "additionalProperties" in schema:
        _check_map(value, schema["additionalProperties"], path, problems)
    else:
        _check_single(value, schema, key, path, parent, problems)


def _check_repeated(
    value: Any, items: dict, key: str, path: str, parent: str, problems: list[str]
) -> None:
    if not isinstance(value, list):
        if items.get("type") == "array":
            _check_list_value(value, items, path, problems)
        else:
            _check_single(value, items, key, path, parent, problems)
        return
    for index, element in enumerate(value):
        element_path = f"{path}[{index}]"
        if element is None:
            continue
        if items.get("type") == "array":
            _check_list_value(element, items, element_path, problems)
        elif isinstance(element, list):
            problems.append(
                INVALID_VALUE.format(
                    path=element_path, type=_type_name(items, key), value=_render(element)
                )
            )
        else:
            _check_single(element, items, key, element_path, path, problems)


def _check_list_value(value: Any, schema: dict, path: str, problems: list[str]) -> None:
    """An array inside an array is a google.protobuf.ListValue (ValueRange.values rows)."""
    if not isinstance(value, list):
        problems.append(INVALID_VALUE.format(path=path, type=LIST_VALUE_TYPE, value=_render(value)))
        return
    items = schema.get("items", {"type": "any"})
    if items.get("type") == "any":
        return
    for index, element in enumerate(value):
        _check_field(element, items, str(index), f"{path}[{index}]", path, problems)


def _check_map(value: Any, items: dict, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(
            INVALID_VALUE.format(path=path, type=_type_name(items, ""), value=_render(value))
        )
        return
    for map_key, element in value.items():
        _check_field(element, items, map_key, f"{path}[{map_key}]", path, problems)


def _check_single(
    value: Any, schema: dict, key: str, path: str, parent: str, problems: list[str]
) -> None:
    """Check a value for a non-repeated field: a message or a scalar."""
    if schema.get("type") == "any":
        return
    if isinstance(value, list):
        problems.append(NOT_REPEATING.format(name=key, at=_at(parent)))
        return
    reference = schema.get("$ref")
    if reference is not None:
        if isinstance(value, dict):
            _check_message(value, reference, path, problems)
        else:
            problems.append(
                INVALID_VALUE.format(path=path, type=PROTO_PREFIX + reference, value=_render(value))
            )
        return
    if isinstance(value, dict):
        problems.append(
            INVALID_VALUE.format(
                path=path, type=_type_name(schema, key), value=OBJECT_ON_SCALAR
            )
        )
        return
    if not scalar_accepted(value, schema):
        problems.append(
            INVALID_VALUE.format(path=path, type=_type_name(schema, key), value=_render(value))
        )


def scalar_accepted(value: Any, schema: dict) -> bool:
    """Whether the transcoder turns a JSON scalar into the schema's scalar type."""
    kind = schema.get("type")
    if "enum" in schema:
        return _enum_accepted(value, schema["enum"])
    type_name = SCALAR_TYPE_NAMES.get((kind, schema.get("format")), "TYPE_STRING")
    if type_name in INTEGER_RANGES:
        return _integer_accepted(value, INTEGER_RANGES[type_name])
    if kind == "number":
        return _number_accepted(value)
    if kind == "boolean":
        return isinstance(value, bool) or (
            isinstance(value, str) and value.lower() in TRUE_STRINGS | FALSE_STRINGS
        )
    return isinstance(value, str)


def _enum_accepted(value: Any, allowed: list[str]) -> bool:
    if isinstance(value, str):
        return value in allowed
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(allowed)


def _integer_accepted(value: Any, bounds: tuple[int, int]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        if INTEGER_TEXT.fullmatch(value):
            value = int(value)
        elif DECIMAL_TEXT.fullmatch(value):
            value = float(value)
        else:
            return False
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return False
        value = int(value)
    return isinstance(value, int) and bounds[0] <= value <= bounds[1]


def _number_accepted(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        return value in SPECIAL_FLOATS or DECIMAL_TEXT.fullmatch(value) is not None
    return False


# --- query validation ------------------------------------------------------------------------


def validate_query(method_id: str, params: dict[str, str | list[str]]) -> list[str]:
    """Check query string parameters (`valueInputOption=RAW` ...); return Google's messages.

    Names are accepted in lowerCamelCase or snake_case, plus Google's standard parameters
    (`fields`, `alt`, `prettyPrint` ...). A value may be a string or a list of strings (a
    repeated parameter such as `ranges`).
    """
    if not discovery_available():
        return []
    declared = dict(load_discovery().get("parameters", {}))
    declared.update(_method(method_id).get("parameters", {}))
    by_snake = {to_snake_case(name): name for name in declared}
    problems: list[str] = []
    for key, raw in params.items():
        name = key if key in declared else by_snake.get(key)
        if name is None:
            problems.append(UNKNOWN_QUERY.format(name=key))
            continue
        schema = declared[name]
        for value in raw if isinstance(raw, list) else [raw]:
            if not _query_value_accepted(value, schema):
                problems.append(
                    INVALID_VALUE.format(
                        path=to_snake_case(name), type=_type_name(schema, name), value=_render(value)
                    )
                )
    return problems


def _query_value_accepted(value: str, schema: dict) -> bool:
    """Query values are strings; convert them as the transcoder does before checking."""
    if "enum" in schema:
        return value in schema["enum"] or (value.isdigit() and int(value) < len(schema["enum"]))
    if schema.get("type") == "string" and schema.get("format") not in ("int64", "uint64"):
        return True
    return scalar_accepted(value, schema)


# --- wording helpers -------------------------------------------------------------------------


def to_snake_case(name: str) -> str:
    """`addSheet` -> `add_sheet`, `sheetId` -> `sheet_id` (the proto field name)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _to_upper_camel(words: str) -> str:
    return "".join(part[:1].upper() + part[1:].lower() for part in words.split("_") if part)


def _type_name(schema: dict, field_name: str) -> str:
    """The type Google names in an `Invalid value` message for this schema."""
    if "$ref" in schema:
        return PROTO_PREFIX + schema["$ref"]
    if "enum" in schema:
        return PROTO_PREFIX + _enum_name(schema["enum"], field_name)
    if schema.get("type") == "array":
        return LIST_VALUE_TYPE
    return SCALAR_TYPE_NAMES.get((schema.get("type"), schema.get("format")), "TYPE_STRING")


def _enum_name(values: list[str], field_name: str) -> str:
    first = values[0] if values else ""
    if first in ENUM_NAME_BY_FIRST_VALUE:
        return ENUM_NAME_BY_FIRST_VALUE[first]
    if first.endswith("_UNSPECIFIED"):
        return _to_upper_camel(first[: -len("_UNSPECIFIED")])
    return field_name[:1].upper() + field_name[1:]


def _render(value: Any) -> str:
    """A value as Google quotes it in messages: strings in double quotes, numbers bare."""
    return json.dumps(value, ensure_ascii=False)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _at(path: str) -> str:
    return f" at '{path}'" if path else ""
