"""Field masks, Google's ``fields`` syntax: ``a,b.c,d(e,f)``, ``/`` as ``.``, ``*``.

Two uses: filtering a response (the ``fields`` query parameter) and applying an
update request's ``fields`` (a path named in the mask but absent from the request is
cleared, ``*`` replaces everything).
"""

from __future__ import annotations

import copy
from typing import Any

Mask = dict[str, Any]  # name -> sub-mask, or None for "the whole value"


class MaskError(ValueError):
    pass


def parse_mask(text: str) -> Mask:
    """'sheets(properties(title),data)' -> {'sheets': {'properties': {'title': None}, 'data': None}}"""
    parser = _MaskParser(text.replace(" ", ""))
    tree = parser.items(top=True)
    if parser.pos != len(parser.text):
        raise MaskError(text)
    return tree


class _MaskParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",()./":
            self.pos += 1
        if start == self.pos:
            raise MaskError(self.text)
        return self.text[start : self.pos]

    def items(self, top: bool = False) -> Mask:
        tree: Mask = {}
        while self.pos < len(self.text):
            path = [self.name()]
            while self.pos < len(self.text) and self.text[self.pos] in "./":
                self.pos += 1
                path.append(self.name())
            sub: Mask | None = None
            if self.pos < len(self.text) and self.text[self.pos] == "(":
                self.pos += 1
                sub = self.items()
                if self.pos >= len(self.text) or self.text[self.pos] != ")":
                    raise MaskError(self.text)
                self.pos += 1
            _merge_path(tree, path, sub)
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                continue
            if self.pos < len(self.text) and self.text[self.pos] == ")" and not top:
                break
            if self.pos < len(self.text):
                raise MaskError(self.text)
        return tree


def _merge_path(tree: Mask, path: list[str], sub: Mask | None) -> None:
    node = tree
    for index, key in enumerate(path):
        last = index == len(path) - 1
        if key in node and node[key] is None:
            return  # already the whole value
        if last:
            if sub is None:
                node[key] = None
            else:
                existing = node.setdefault(key, {})
                for k, v in sub.items():
                    _merge_path(existing, [k], v)
            return
        node = node.setdefault(key, {})


def filter_value(value: Any, mask: Mask | None) -> Any:
    """Keep only the masked fields; objects on a masked path stay even when empty."""
    if mask is None:
        return value
    if isinstance(value, list):
        return [filter_value(item, mask) for item in value]
    if not isinstance(value, dict):
        return value
    if "*" in mask:
        sub = mask["*"]
        return {k: filter_value(v, sub) for k, v in value.items()}
    return {key: filter_value(value[key], sub) for key, sub in mask.items() if key in value}


def apply_update(target: dict[str, Any], source: dict[str, Any], mask: Mask) -> dict[str, Any]:
    """The target after setting the masked fields from source (absent ones cleared)."""
    if "*" in mask:
        return copy.deepcopy({k: v for k, v in source.items() if v is not None})
    result = dict(target)
    for key, sub in mask.items():
        value = source.get(key) if isinstance(source, dict) else None
        if sub is None or not isinstance(value, (dict, type(None))):
            if value is None:
                result.pop(key, None)
            else:
                result[key] = copy.deepcopy(value)
            continue
        merged = apply_update(target.get(key) or {}, value or {}, sub)
        if merged:
            result[key] = merged
        else:
            result.pop(key, None)
    return result


def mask_paths(mask: Mask, prefix: str = "") -> list[str]:
    """{'a': {'b': None}} -> ['a.b']"""
    paths = []
    for key, sub in mask.items():
        path = f"{prefix}.{key}" if prefix else key
        paths.extend([path] if sub is None else mask_paths(sub, path))
    return paths
