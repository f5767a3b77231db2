"""YAML snapshots: a safe loader without aliases, the dumper, and YAML's errors as one sentence.

Kept apart from ``snapshot`` so that only a YAML document pays for importing PyYAML (the
backup machine writes JSON; a Lambda cold start need not load a parser it never uses).
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import InvalidInput


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases: a snapshot never needs them, and they can explode."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            # types-PyYAML leaves Parser.peek_event unannotated.
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not allowed in a snapshot", event.start_mark
            )
        return super().compose_node(parent, index)


def load(text: str, name: str) -> Any:
    """YAML text -> Python data; InvalidInput naming the line and column of any error."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(err, "problem", None) or str(err)
        raise InvalidInput(f"{name} is not valid YAML: {where}{what}") from None


def dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
