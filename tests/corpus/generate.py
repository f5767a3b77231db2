"""Regenerate the bad-input corpus: ``python tests/corpus/generate.py``.

Each file is broken in exactly one way; the ones whose problem is past the checksum carry a
correct checksum, so that the problem named is the one albrules must find.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from albrules.models import Snapshot
from albrules.snapshot import expected_checksum

HERE = Path(__file__).parent
ACCOUNT = "111122223333"
LISTENER = (
    f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener/app/prod-web/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2"
)
TG = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:targetgroup/gone-tg/73e2d6bc24d8a067"

BASE = {
    "schema_version": 1,
    "created_at": "2026-11-01T08:00:00Z",
    "tool_version": "0.1.0",
    "checksum": "",
    "source": {
        "account": ACCOUNT,
        "region": "eu-west-1",
        "load_balancer_arn": LISTENER.replace(":listener/", ":loadbalancer/").rsplit("/", 1)[0],
        "load_balancer_name": "prod-web",
        "listener_arn": LISTENER,
        "port": 80,
        "protocol": "HTTP",
    },
    "default_actions": [
        {"Type": "fixed-response", "Order": 1, "FixedResponseConfig": {"StatusCode": "404"}}
    ],
    "rules": [
        {
            "priority": 10,
            "conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
            "actions": [
                {
                    "Type": "forward",
                    "Order": 1,
                    "ForwardConfig": {
                        "TargetGroups": [{"TargetGroupArn": TG, "TargetGroupName": "gone-tg"}]
                    },
                }
            ],
            "transforms": [],
            "tags": {"owner": "api"},
        },
        {
            "priority": 20,
            "conditions": [
                {"Field": "host-header", "HostHeaderConfig": {"Values": ["a.example.com"]}}
            ],
            "actions": [
                {"Type": "fixed-response", "Order": 1, "FixedResponseConfig": {"StatusCode": "200"}}
            ],
            "transforms": [],
            "tags": {},
        },
    ],
}


def sealed(document: dict) -> dict:
    document = copy.deepcopy(document)
    document["checksum"] = "0" * 64
    document["checksum"] = expected_checksum(Snapshot.model_validate(document))
    return document


def write(name: str, document: object) -> None:
    path = HERE / name
    if name.endswith(".json"):
        path.write_text(json.dumps(document, indent=2) + "\n")
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False))


def main() -> None:
    good = sealed(BASE)
    write("valid_other_listener.json", good)  # valid, but of a listener the tests do not have
    write("missing_target_group.yaml", good)

    (HERE / "malformed.json").write_text(json.dumps(good, indent=2)[:400])
    (HERE / "malformed.yaml").write_text(
        "schema_version: 1\nrules:\n  - priority: 10\n conditions: [\n"
    )
    write("wrong_schema_version.json", {**good, "schema_version": 3})

    tampered = copy.deepcopy(good)
    tampered["rules"][1]["actions"][0]["FixedResponseConfig"]["StatusCode"] = "503"
    write("tampered_checksum.json", tampered)

    duplicate = copy.deepcopy(BASE)
    duplicate["rules"][1]["priority"] = 10
    write("duplicate_priority.json", sealed(duplicate))

    out_of_range = copy.deepcopy(BASE)
    out_of_range["rules"][0]["priority"] = 0
    out_of_range["rules"][1]["priority"] = 50001
    write("priority_out_of_range.json", sealed(out_of_range))

    unknown = copy.deepcopy(good)
    unknown["rules"][1]["conditions"][0] = {"Field": "cookie", "CookieConfig": {"Values": ["a=b"]}}
    write("unknown_condition_field.json", unknown)

    typo = copy.deepcopy(good)
    typo["rules"][0]["prioirty"] = typo["rules"][0].pop("priority")
    write("misspelt_key.yaml", typo)

    many = copy.deepcopy(BASE)
    many["rules"][0]["conditions"][0]["PathPatternConfig"]["Values"] = [
        f"/v{i}/*" for i in range(6)
    ]
    write("too_many_values.json", sealed(many))

    (HERE / "yaml_alias.yaml").write_text("a: &x [1, 2, 3]\nb: [*x, *x, *x]\nschema_version: 1\n")
    write("not_a_mapping.json", [1, 2, 3])


if __name__ == "__main__":
    main()
