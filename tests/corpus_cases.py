"""The bad-input corpus (tests/corpus): each file and the fragments its one-sentence refusal
must hold. Read by the unit tier (without the CLI or AWS) and the integration tier (through the
CLI, with no change to the listener).
"""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"

CASES = [
    ("malformed.json", ["is not valid JSON: line"]),
    ("malformed.yaml", ["is not valid YAML: line"]),
    ("wrong_schema_version.json", ["schema version 3 is not supported"]),
    ("tampered_checksum.json", ["checksum: does not match the content"]),
    ("duplicate_priority.json", ["rules: priority 10 is used 2 times (rules[0], rules[1])"]),
    (
        "priority_out_of_range.json",
        [
            "rules[0].priority: priority 0 is outside 1..50000",
            "rules[1].priority: priority 50001 is outside 1..50000",
        ],
    ),
    (
        "unknown_condition_field.json",
        [
            "rules[1].conditions[0].Field: 'cookie' is not allowed here; expected 'host-header'",
            "rules[1].conditions[0]: unknown field 'CookieConfig'",
        ],
    ),
    (
        "misspelt_key.yaml",
        ["rules[0]: unknown field 'prioirty'", "rules[0]: missing required field 'priority'"],
    ),
    (
        "too_many_values.json",
        [
            "rules[0].conditions: 6 condition values; a rule takes at most 5",
            "rules[0].conditions: 6 wildcards",
        ],
    ),
    ("yaml_alias.yaml", ["YAML aliases are not allowed"]),
    ("not_a_mapping.json", ["the document is a list, not a mapping"]),
]
