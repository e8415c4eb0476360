"""Cell formats and colours as Google stores and answers them.

Colours are kept as 32-bit floats printed at their shortest (0.4980392156862745 ->
0.49803922) with zero channels left out; each ``Color`` is mirrored by its
``ColorStyle`` (``backgroundColor`` <-> ``backgroundColorStyle.rgbColor``...), and a
style with neither ``rgbColor`` nor ``themeColor`` is no colour at all.
"""

from __future__ import annotations

import copy
import struct
from typing import Any

from .cell_values import json_number

# (plain colour key, style key) pairs, by the object that holds them.
COLOR_PAIRS = [("backgroundColor", "backgroundColorStyle"), ("tabColor", "tabColorStyle")]
TEXT_COLOR_PAIRS = [("foregroundColor", "foregroundColorStyle")]


def float32(value: float) -> float | int:
    """Round to a 32-bit float, printed as briefly as it round-trips."""
    packed = struct.unpack("f", struct.pack("f", float(value)))[0]
    for digits in range(1, 10):
        text = f"{packed:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == packed:
            return json_number(float(text))
    return json_number(packed)


def channel(value: float) -> float | int:
    """Sheets keeps 8 bits per channel: 0.5 is stored as 127/255 (0.49803922)."""
    level = max(0, min(255, int(float(value) * 255 + 1e-6)))
    return float32(level / 255)


def normalize_color(color: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("red", "green", "blue", "alpha"):
        value = (color or {}).get(name)
        if value is None:
            continue
        if name == "alpha":
            out[name] = float32(value)
        elif channel(value):
            out[name] = channel(value)
    return out


def _from_style(holder: dict[str, Any], plain: str, style: str) -> None:
    value = holder.get(style)
    if isinstance(value, dict) and value.get("rgbColor") is not None:
        rgb = normalize_color(value["rgbColor"])
        holder[style] = {"rgbColor": rgb}
        holder[plain] = copy.deepcopy(rgb)
    elif isinstance(value, dict) and value.get("themeColor"):
        holder[style] = {"themeColor": value["themeColor"]}
        holder.pop(plain, None)
    else:
        holder.pop(style, None)
        holder.pop(plain, None)


def _from_plain(holder: dict[str, Any], plain: str, style: str) -> None:
    value = holder.get(plain)
    if isinstance(value, dict):
        rgb = normalize_color(value)
        holder[plain] = rgb
        holder[style] = {"rgbColor": copy.deepcopy(rgb)}
    else:
        holder.pop(style, None)
        holder.pop(plain, None)


def _sync_pair(holder: dict[str, Any], source: dict[str, Any], plain: str, style: str) -> None:
    """The half the request set wins; a style without a colour is no colour at all."""
    if style in source:
        _from_style(holder, plain, style)
    elif plain in source:
        _from_plain(holder, plain, style)
    elif style in holder:
        _from_style(holder, plain, style)
    elif plain in holder:
        _from_plain(holder, plain, style)


def sync_colors(holder: dict[str, Any], source: dict[str, Any] | None = None) -> dict[str, Any]:
    """Normalise colours and mirror Color/ColorStyle pairs; ``source`` is the request,
    whose half of a pair wins."""
    source = source or {}
    for plain, style in COLOR_PAIRS:
        _sync_pair(holder, source, plain, style)
    text = holder.get("textFormat")
    if isinstance(text, dict):
        text_source = source.get("textFormat") if isinstance(source.get("textFormat"), dict) else {}
        for plain, style in TEXT_COLOR_PAIRS:
            _sync_pair(text, text_source, plain, style)
    return holder


def strip_nulls(value: Any) -> Any:
    """Explicit JSON nulls mean 'not set'."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value if v is not None]
    return value


def effective_format(default: dict[str, Any], user: dict[str, Any] | None) -> dict[str, Any]:
    """The format a cell shows: the spreadsheet default overlaid with the cell's own."""
    merged = copy.deepcopy(default)
    for key, value in (user or {}).items():
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and key
            not in (
                "backgroundColor",
                "backgroundColorStyle",
                "numberFormat",
            )
        ):
            merged[key] = {**merged[key], **copy.deepcopy(value)}
        else:
            merged[key] = copy.deepcopy(value)
    return merged
