"""YAML snapshots: a safe loader without aliases, the dumper, and YAML's errors as one sentence.

Kept apart from ``snapshot`` so that only a YAML document pays for importing PyYAML (the
backup machine writes JSON; a Lambda cold start need not load a parser it never uses).

The loader is PyYAML's C one (``CSafeLoader``, libyaml) where PyYAML was built with it, else
the pure-Python ``SafeLoader``. Before anything is composed, the parser's events are scanned
(:func:`albrules.snapshot_bounds.scan_yaml_events`): an alias (which could explode), more
than 50,000 rules or an oversized rule is refused there, in constant memory. Integers and
floats no snapshot can hold (a 5,000-digit or 64-bit-overflowing integer, ``.nan``, ``.inf``)
become markers that :func:`albrules.snapshot_bounds.check_tree` names with their field.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from . import snapshot_bounds
from .errors import InvalidInput

_Base: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
WITH_C_LOADER = _Base is not yaml.SafeLoader


class _BoundedLoader(_Base):  # type: ignore[misc]
    """Safe YAML whose numbers are bounded (aliases are refused by the event scan)."""


def _int(loader: Any, node: Any) -> Any:
    try:
        value = yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:  # Python's 4,300-digit guard on a decimal literal
        return snapshot_bounds.MalformedNumber(str(node.value))
    return snapshot_bounds.bounded_int(value, str(node.value))


def _float(loader: Any, node: Any) -> Any:
    value = yaml.constructor.SafeConstructor.construct_yaml_float(loader, node)
    return value if math.isfinite(value) else snapshot_bounds.MalformedNumber(str(node.value))


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _int)
_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _float)


def load(text: str, name: str) -> Any:
    """YAML text -> Python data; InvalidInput naming the line and column of any error."""
    try:
        snapshot_bounds.scan_yaml_events(yaml.parse(text, Loader=_Base), name)
        return yaml.load(text, Loader=_BoundedLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(err, "problem", None) or str(err)
        raise InvalidInput(f"{name} is not valid YAML: {where}{what}") from None


def dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
