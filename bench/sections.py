"""docs/benchmarks.md is written by sections: ``python bench/run.py --only PART`` rewrites one."""

from __future__ import annotations


def replace_section(document: str, heading: str, lines: list[str], before: str = "## Notes") -> str:
    """``document`` with the section under ``heading`` (to the next ``## `` heading) replaced by
    ``lines``, or inserted before the ``before`` heading (else at the end)."""
    parts = document.split("\n")
    if heading in parts:
        start = parts.index(heading)
        end = next(
            (i for i in range(start + 1, len(parts)) if parts[i].startswith("## ")), len(parts)
        )
    else:
        start = end = parts.index(before) if before in parts else len(parts)
    return "\n".join([*parts[:start], *lines, *parts[end:]])
