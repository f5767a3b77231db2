"""Snapshot documents: build from a live listener, canonicalise, checksum, read and write.

The checksum is the SHA-256 of the canonical JSON of everything but ``checksum``,
``created_at`` and ``tool_version``: two snapshots of the same routing of the same listener
have the same checksum, whatever the format (JSON or YAML) or the time they were taken.

Formats 1 and 2 are both read (:data:`~albrules.models.SCHEMA_VERSIONS`); format 2 is written
whenever the capture read the listener's settings. A format 1 document has no ``listener``, so
its checksum is exactly what it was when it was written; a format 2 checksum covers
``listener`` (in canonical form, :mod:`albrules.listener_settings`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from . import __version__, snapshot_bounds
from .canonical import canonical_actions, canonical_rule, sha256_hex
from .errors import InvalidInput, Problem, SnapshotInvalid
from .listener_settings import canonical_settings_dict
from .models import (
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    ListenerState,
    Rule,
    Snapshot,
    to_milliseconds,
)
from .validate import Limits, check_actions, check_rule, check_rules

Format = Literal["json", "yaml"]
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
_VOLATILE = ("checksum", "created_at", "tool_version")


# --- canonical content and checksum -----------------------------------------------------


def _canonical_body(
    default_actions: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> dict[str, Any]:
    rules = sorted((canonical_rule(r) for r in rules), key=lambda r: r["priority"])
    return {"default_actions": canonical_actions(default_actions), "rules": rules}


def content_checksum(document: dict[str, Any]) -> str:
    """SHA-256 of the canonical content of a snapshot document (a dict)."""
    return sha256_hex({k: v for k, v in document.items() if k not in _VOLATILE})


def _dump(model: Any) -> Any:
    if isinstance(model, list):
        return [_dump(m) for m in model]
    return model.model_dump(mode="json", exclude_none=True)


def build_snapshot(state: ListenerState, *, created_at: datetime | None = None) -> Snapshot:
    """A canonical, checksummed snapshot of a captured listener (ARNs dropped)."""
    rules = [{k: v for k, v in r.items() if k != "arn"} for r in _dump(state.rules)]
    document: dict[str, Any] = {
        # A state captured without its settings (none of albrules' own captures) stays format 1.
        "schema_version": SCHEMA_VERSION if state.listener is not None else 1,
        "created_at": to_milliseconds(created_at or datetime.now(UTC)),
        "tool_version": __version__,
        "source": _dump(state.source),
        **_canonical_body(_dump(state.default_actions), rules),
        "checksum": "0" * 64,
    }
    if state.listener is not None:
        document["listener"] = canonical_settings_dict(_dump(state.listener))
    snapshot = Snapshot.model_validate(document)
    return snapshot.model_copy(update={"checksum": expected_checksum(snapshot)})


def canonicalize(snapshot: Snapshot) -> Snapshot:
    """The same snapshot in canonical form (idempotent); the checksum is left as it was."""
    document = _dump(snapshot)
    document.update(_canonical_body(document["default_actions"], document["rules"]))
    if "listener" in document:
        document["listener"] = canonical_settings_dict(document["listener"])
    return Snapshot.model_validate(document)


def expected_checksum(snapshot: Snapshot) -> str:
    return content_checksum(_dump(canonicalize(snapshot)))


# --- reading ----------------------------------------------------------------------------


def format_for(name: str, explicit: str | None = None) -> Format | None:
    if explicit:
        if explicit not in ("json", "yaml"):
            raise InvalidInput(f"--format must be json or yaml, not {explicit!r}")
        return explicit  # type: ignore[return-value]
    lowered = name.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith((".yaml", ".yml")):
        return "yaml"
    return None


def parse_document(data: bytes, name: str, fmt: Format | None = None) -> Any:
    """Bytes -> Python data. One clear InvalidInput for anything that is not a document."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            f"{name} is {len(data) / 1048576:.1f} MiB; a snapshot is at most "
            f"{MAX_DOCUMENT_BYTES // 1048576} MiB, so this is not a snapshot file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{name} is not a text file (not UTF-8); point albrules at a JSON or YAML snapshot"
        ) from None
    if "\x00" in text:
        raise InvalidInput(f"{name} is binary, not a JSON or YAML snapshot")
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    try:
        if fmt == "json":
            data = json.loads(
                text,
                parse_int=snapshot_bounds.json_int,
                parse_float=snapshot_bounds.json_float,
                parse_constant=snapshot_bounds.json_constant,
            )
        else:
            from . import snapshot_yaml  # only a YAML document needs PyYAML

            data = snapshot_yaml.load(text, name)
    except json.JSONDecodeError as err:
        raise InvalidInput(
            f"{name} is not valid JSON: line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        raise InvalidInput(f"{name} is nested too deeply to be a snapshot") from None
    except ValueError:  # a number the hooks did not catch (Python's 4,300-digit guard)
        raise InvalidInput(
            f"{name} holds a number too long to be any value of a snapshot; it is not a "
            "snapshot file"
        ) from None
    snapshot_bounds.check_tree(data, name)
    return data


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def pydantic_problems(err: ValidationError, prefix: str = "") -> list[Problem]:
    """pydantic errors as problems with document paths, in plain words."""
    problems = []
    for item in err.errors(include_url=False):
        loc = tuple(item["loc"])
        # Drop the discriminator-like tags pydantic adds for unions (none here) and
        # function-after markers, keep real keys and indexes.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        kind = item["type"]
        if kind == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
            loc = loc[:-1]
        elif kind == "missing":
            message = f"missing required field {loc[-1]!r}"
            loc = loc[:-1]
        elif kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            given = repr(item.get("input"))
            given = given if len(given) <= 60 else given[:57] + "..."
            message = f"{given} is not allowed here; expected {expected}"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        path = _path(loc)
        if prefix:
            path = f"{prefix}{'.' if path and not path.startswith('[') else ''}{path}"
        problems.append(Problem(path, message))
    return problems


def snapshot_from_data(data: Any, name: str) -> Snapshot:
    """Validate parsed data as a snapshot: schema, limits, checksum. Every problem is counted;
    the first 100 are kept (``SnapshotInvalid.more`` counts the rest). The cost is bounded
    (:mod:`albrules.snapshot_bounds`): too many rules, an oversized rule or a malformed number
    is refused before any rule is validated."""
    snapshot_bounds.check_tree(data, name)
    if not isinstance(data, dict):
        raise SnapshotInvalid(
            name, [Problem("", f"the document is a {type(data).__name__}, not a mapping")]
        )
    version = data.get("schema_version")
    if type(version) is not int or version not in SCHEMA_VERSIONS:
        shown = repr(version) if len(repr(version)) <= 40 else repr(version)[:37] + "..."
        readable = " and ".join(str(v) for v in SCHEMA_VERSIONS)
        raise SnapshotInvalid(
            name,
            [
                Problem(
                    "schema_version",
                    f"schema version {shown} is not supported; this albrules reads "
                    f"versions {readable}",
                )
            ],
        )
    limits = Limits()
    found = snapshot_bounds.ProblemCounter()
    raw_rules = data.get("rules")
    each = isinstance(raw_rules, list)
    listed: list[Any] = raw_rules if isinstance(raw_rules, list) else []
    snapshot: Snapshot | None = None
    try:
        snapshot = Snapshot.model_validate({**data, "rules": []} if each else data)
    except ValidationError as err:
        found.add(pydantic_problems(err))
    rules: list[Rule] = []
    for i, raw in enumerate(listed):  # one rule at a time: its errors are freed with it
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as err:
            found.add(pydantic_problems(err, f"rules[{i}]"))
            continue
        rules.append(rule)
        found.add(check_rule(rule, f"rules[{i}]", limits))
    if found or snapshot is None:
        raise SnapshotInvalid(name, found.kept, found.more)
    snapshot = snapshot.model_copy(update={"rules": rules})
    found.add(check_actions(snapshot.default_actions, "default_actions", limits))
    found.add(check_rules(snapshot.rules, limits, check_each=False))
    if snapshot.checksum != expected_checksum(snapshot):
        found.add(
            [
                Problem(
                    "checksum",
                    "does not match the content: the document was changed after it was written",
                )
            ]
        )
    if found:
        raise SnapshotInvalid(name, found.kept, found.more)
    return canonicalize(snapshot)


def loads(data: bytes, name: str, fmt: Format | None = None) -> Snapshot:
    return snapshot_from_data(parse_document(data, name, fmt), name)


# --- writing ----------------------------------------------------------------------------


def to_document(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as an ordered dict for humans: metadata first, then routing."""
    dumped = _dump(snapshot)
    order = [
        "schema_version",
        "created_at",
        "tool_version",
        "checksum",
        "source",
        "listener",
        "default_actions",
        "rules",
    ]
    return {key: dumped[key] for key in order if key in dumped}


def dumps(snapshot: Snapshot, fmt: Format = "json") -> bytes:
    document = to_document(snapshot)
    if fmt == "yaml":
        from . import snapshot_yaml  # only a YAML document needs PyYAML

        text = snapshot_yaml.dump(document)
    else:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8")
