"""The state machine definitions of template.yaml as AWS receives them: substitutions applied.

    python scripts/asl_substitute.py [--template template.yaml] OUT_DIR

For each ``AWS::Serverless::StateMachine`` whose ``DefinitionUri`` is a local file, writes that
file to OUT_DIR (same base name) with every ``${Name}`` of its ``DefinitionSubstitutions``
replaced by a placeholder of the right shape: a Lambda, SNS, SQS or state machine ARN for an
``!GetAtt X.Arn`` or ``!Ref`` of such a resource, a bucket or table name for ``!Ref`` of one,
a parameter's ``Default`` for ``!Ref`` of a parameter, the text itself for a plain value.
Prints the paths written. A placeholder with no substitution is an error (exit 1).

(asl-validator accepts the raw ``${...}`` too; validating the substituted text is what AWS
does, and it catches a substitution that only breaks the JSON once replaced.)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"
REGION = "us-east-1"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags read as their long form ({"Fn::GetAtt": ...})."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def _arn(kind: str, logical_id: str) -> str | None:
    return {
        "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{logical_id}",
        "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}",
        "AWS::Serverless::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"
        f"{logical_id}",
    }.get(kind)


def placeholder(value: Any, template: dict[str, Any]) -> str:
    """A value of the shape the substitution will have once deployed."""
    resources = template.get("Resources") or {}
    parameters = template.get("Parameters") or {}
    if isinstance(value, dict) and "Ref" in value:
        ref = value["Ref"]
        if ref in parameters:
            return str(parameters[ref].get("Default", ref))
        kind = (resources.get(ref) or {}).get("Type", "")
        return _arn(kind, ref) or ref.lower()
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        kind = (resources.get(logical_id) or {}).get("Type", "")
        if attribute == "Arn":
            return _arn(kind, logical_id) or f"arn:aws:placeholder:{REGION}:{ACCOUNT}:{logical_id}"
        return f"{logical_id}-{attribute}".lower()
    if isinstance(value, dict):
        return "placeholder"
    return str(value)


def apply(text: str, subs: dict[str, str], where: str) -> str:
    """``text`` with each ``${Name}`` replaced by ``subs[Name]``; a missing one exits."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in subs:
            raise SystemExit(f"{where}: ${{{match.group(1)}}} has no substitution")
        return subs[match.group(1)]

    return PLACEHOLDER.sub(replace, text)


def substituted(template_path: Path) -> dict[str, str]:
    """Base name of each local DefinitionUri -> its text with the substitutions applied."""
    template = yaml.load(template_path.read_text(), Loader=_Loader)
    out: dict[str, str] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        uri = props.get("DefinitionUri")
        if resource.get("Type") != "AWS::Serverless::StateMachine" or not isinstance(uri, str):
            continue
        path = template_path.parent / uri
        subs = {
            name: placeholder(value, template)
            for name, value in (props.get("DefinitionSubstitutions") or {}).items()
        }

        out[path.name] = apply(path.read_text(), subs, f"{path} ({logical_id})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in substituted(args.template).items():
        target = args.out_dir / name
        target.write_text(text)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
