"""Write the generated parts of the docs; ``--check`` only says which are out of date.

    .venv/bin/python scripts/gen_docs.py           # rewrite them
    .venv/bin/python scripts/gen_docs.py --check   # exit 1 if any is out of date

Each generated part sits between two markers in its file::

    <!-- BEGIN GENERATED name (scripts/gen_docs.py; do not edit by hand) -->
    ...
    <!-- END GENERATED name -->

The parts: the two state machine diagrams in README.md (``albrules graph``), the CLI reference
in README.md (from the typer app), and the IAM tables in docs/iam.md (from template.yaml,
translated by aws-sam-translator as ``albrules local deploy`` does, and member-account.yaml).
tests/test_docs.py fails when a part differs from what this script would write.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
IAM = ROOT / "docs" / "iam.md"
COMMAND = ".venv/bin/python scripts/gen_docs.py"

# --- markers --------------------------------------------------------------------------------


def begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name} (scripts/gen_docs.py; do not edit by hand) -->"


def end(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def _span(text: str, name: str, where: Path) -> tuple[int, int]:
    start, stop = text.find(begin(name)), text.find(end(name))
    if start < 0 or stop < start:
        raise SystemExit(f"{where.name} has no generated block {name!r}; add its two markers")
    return start + len(begin(name)), stop


def current(path: Path, name: str) -> str:
    text = path.read_text()
    start, stop = _span(text, name, path)
    return text[start:stop].strip("\n")


def replace(text: str, name: str, body: str, where: Path) -> str:
    start, stop = _span(text, name, where)
    return text[:start] + "\n" + body.rstrip("\n") + "\n" + text[stop:]


# --- the diagrams ---------------------------------------------------------------------------


def diagram(kind: str) -> str:
    """``albrules graph KIND`` of the ASL file in this checkout, as a fenced Mermaid block."""
    from albrules.graph import graph_of

    return "```mermaid\n" + graph_of(kind, str(ROOT / "statemachine" / f"{kind}.asl.json")) + "```"


# --- the CLI reference ----------------------------------------------------------------------

# Options every AWS command takes; described once above the reference.
COMMON = ("--profile", "--region", "--debug")
# The exit codes of each command, as the code behaves (read src/albrules/cli/, workflows.py).
# A command missing here makes the generator fail: say what its exit codes are.
EXIT_CODES = {
    "backup": "0 written or unchanged; 2 bad options, listener or load balancer not found; "
    "1 AWS refused or failed (access denied, throttling)",
    "show": "0 valid; 2 missing, unreadable or not a valid snapshot; 1 AWS failure",
    "validate": "0 valid (and restorable into --listener-arn); 2 not valid, or not restorable "
    "there (target groups, quota, secrets, conflicts); 1 AWS failure",
    "list": "0 listed (even none); 2 the location does not exist; 1 AWS failure",
    "seal": "0 sealed; 2 missing, unreadable or not a valid snapshot, or no seal key found; "
    "1 AWS refused or failed (no kms:GenerateMac on the key, access denied)",
    "plan": "0 plan shown (with or without changes); 2 bad input, or the restore would be "
    "refused (with --at/--before-change: no such version, an unknown event, a time in the "
    "future or unreadable); 1 AWS failure",
    "restore": "0 restored, nothing to change, or dry run; 2 bad input or refused before any "
    "change (not confirmed, stale plan, conflicts; with --at/--before-change no such version, "
    "an unknown event, a time in the future or unreadable); 3 failed and rolled back (the "
    "listener is as it was); 4 the rollback failed too; 1 anything else",
    "drill": "0 restorable; 5 not restorable (each reason listed: a missing certificate, trust "
    "store or target group, a call AWS refused, a difference the verify found); 6 the scratch "
    "load balancer was not left as it was (the report says what is left); 2 bad input, no such "
    "scratch load balancer or no free drill port, before any change; 1 anything else",
    "version": "0",
    "run": "0 succeeded (or started, with --no-wait); for a restore 2 refused before any change "
    "(RestoreRefused, ListenerLocked, ListenerChanged, ApprovalRejected, ApprovalTimedOut), "
    "3 RestoreRolledBack, 4 RollbackFailed; 2 a bad input file; 1 anything else (a failed "
    "backup, or still running at --timeout)",
    "approve": "0 approved (with --wait: the restore succeeded); 2 nothing pending (not at "
    "its approval step yet, or ended), already decided or expired, you started this restore "
    "(four eyes), or its requester is not in CloudTrail yet; with --wait the restore's code "
    "as for run (3, 4, 2); 1 anything else (a decision recorded but throttled: run it again)",
    "audit": "0 printed; 2 neither or both of --listener-arn and --execution-arn, or an "
    "execution not in the catalog; 1 anything else",
    "reject": "0 rejected; with --wait 2 (the restore ends with ApprovalRejected); 2 nothing "
    "pending (not at its approval step yet, or ended), already decided or expired, or no "
    "--reason; 1 anything else",
    "watch": "when the execution ends, its code as for run: 0 succeeded; for a restore "
    "2 refused before any change, 3 rolled back, 4 rollback failed; 2 a wrong or unknown "
    "execution ARN; 1 anything else, or still running at --timeout (the execution goes on)",
    "drift": "0 no drift; 5 drift found; 2 bad options, a missing location, or a listener with "
    "no snapshot there; 1 anything else (AWS refused or failed)",
    "history": "0 printed (even no versions); 2 neither or both of --listener-arn and "
    "--load-balancer, an unreadable --since, a --from that is not a directory or prefix, no "
    "stack or table found; 1 AWS failure",
    "diff": "0 the two snapshots route the same; 5 they differ; 2 missing, unreadable or not a "
    "valid snapshot, or a catalog id not in the catalog; 1 AWS failure",
    "graph": "0 printed; 2 no such file, not an ASL definition, or not backup/restore/changes",
    "local up": "0 started (or already running); 1 it could not start",
    "local down": "0 stopped, or nothing was running",
    "local status": "0 running; 1 not running",
    "local seed": "0 seeded; 2 the local AWS is not running",
    "local break": "0 broken; 2 not a listener ARN, or the local AWS is not running",
    "local fault": "0 fault set or cleared; 2 no operation given, or the local AWS is not running",
    "local notifications": "0 shown (even none); 2 the local AWS is not running",
    "local deploy": "0 deployed; 2 bad template or parameters, or the local AWS is not running; "
    "1 a resource could not be created",
}


def _commands() -> list[tuple[str, Any]]:
    """(name, click command) of every command of the app, in the order ``--help`` lists them."""
    import typer
    from typer import _click as click

    from albrules.cli import app

    found: list[tuple[str, Any]] = []

    def walk(command: Any, path: list[str], context: Any) -> None:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                walk(sub, [*path, name], click.Context(sub, parent=context, info_name=name))
        else:
            found.append((" ".join(path), command))

    root = typer.main.get_command(app)
    walk(root, [], click.Context(root, info_name="albrules"))
    return found


def command_names() -> list[str]:
    return [name for name, _ in _commands()]


def _metavar(param: Any) -> str:
    if param.metavar:  # the command's own word for the value (TIME, EVENT_ID)
        return str(param.metavar)
    annotation = param.type_descriptor.annotation
    inner = getattr(annotation, "__args__", (annotation,))[0]
    if inner is int:
        return "N"
    if inner is float:
        return "SECONDS" if "timeout" in param.name else "N"
    return param.opts[0].lstrip("-").replace("-", "_").upper()


def _option(param: Any) -> tuple[str, str]:
    """(how it is written, what it does) for one parameter."""
    what = (param.help or "").strip()
    notes = []
    if not param.opts[0].startswith("-"):  # an argument
        written = f"`{param.name.upper()}`"
        if not param.required:
            notes.append("optional")
    else:
        if param.is_flag:
            names = ", ".join(param.opts)
            written = (
                f"`{names}/{param.secondary_opts[0]}`" if param.secondary_opts else (f"`{names}`")
            )
        else:
            written = f"`{', '.join(param.opts)} {_metavar(param)}`"
        if param.required:
            notes.append("required")
        if param.multiple and "repeatable" not in what:
            notes.append("repeatable")
        default = param.default
        if default not in (None, False, [], ()) and "default" not in what.lower():
            shown = (
                "on"
                if default is True
                else f"{default:g}"
                if isinstance(default, float)
                else (default)
            )
            notes.append(f"default {shown}")
    if notes:
        what = f"{what.rstrip('.')} ({', '.join(notes)})." if what else ", ".join(notes)
    return written, what.replace("|", "\\|")


def _usage(name: str, command: Any) -> str:
    parts = [f"albrules {name}"]
    for param in command.params:
        if not param.opts[0].startswith("-"):
            parts.append(param.name.upper() if param.required else f"[{param.name.upper()}]")
    if any(p.opts[0].startswith("-") and p.opts[0] not in COMMON for p in command.params):
        parts.append("[OPTIONS]")
    return " ".join(parts)


def cli_reference() -> str:
    """Every command with its arguments, options and exit codes."""
    lines: list[str] = []
    for name, command in _commands():
        if name not in EXIT_CODES:
            raise KeyError(
                f"albrules {name} has no exit codes in scripts/gen_docs.py EXIT_CODES; add them"
            )
        summary = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        lines += [f"### `{_usage(name, command)}`", "", summary, ""]
        rows = [_option(p) for p in command.params if p.opts[0] not in COMMON]
        if rows:
            lines += ["| argument or option | what it does |", "|---|---|"]
            lines += [f"| {written} | {what} |" for written, what in rows]
            lines.append("")
        lines += [f"Exit codes: {EXIT_CODES[name]}.", ""]
    return "\n".join(lines).rstrip("\n")


# --- IAM ------------------------------------------------------------------------------------

MANAGED = {  # what the AWS managed policies SAM attaches allow (AWS managed policy reference)
    "AWSLambdaBasicExecutionRole": "logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents",
    "AWSXrayWriteOnlyAccess": "xray:PutTraceSegments, xray:PutTelemetryRecords, "
    "xray:GetSamplingRules, xray:GetSamplingTargets, xray:GetSamplingStatisticSummaries",
}
_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


def render(value: Any) -> str:
    """A CloudFormation value as text: ``${Name}`` for references, as ``!Sub`` writes them."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(render(v) for v in value)
    if not isinstance(value, dict) or len(value) != 1:
        return json.dumps(value, sort_keys=True)
    ((key, arg),) = value.items()
    if key == "Ref":
        return f"${{{arg}}}"
    if key == "Fn::GetAtt":
        return f"${{{arg if isinstance(arg, str) else '.'.join(arg)}}}"
    if key == "Fn::Sub":
        if isinstance(arg, str):
            return arg
        text, variables = arg

        def swap(match: re.Match[str]) -> str:
            name = match[1]
            if name not in variables:
                return match[0]
            inner = variables[name]
            shown = render(inner)
            return (
                shown
                if isinstance(inner, dict) and set(inner) & {"Ref", "Fn::GetAtt"}
                else (f"<{shown}>")
            )

        return _SUB_VAR.sub(swap, text)
    if key == "Fn::Join":
        separator, items = arg
        return (
            separator.join(render(i) for i in items) if isinstance(items, list) else (render(items))
        )
    if key == "Fn::Select":
        index, items = arg
        if isinstance(items, dict) and "Fn::Split" in items and str(index) == "4":
            delimiter, source = items["Fn::Split"]
            if delimiter == ":":
                return f"the account ID of {render(source)}"
        return f"{'the first' if str(index) == '0' else f'item {index}'} of {render(items)}"
    if key == "Fn::If":
        condition, yes, no = arg
        return f"{render(yes)} if {condition}, else {render(no)}"
    if key == "Fn::Split":
        return ", ".join(_symbolic(value))
    return json.dumps(value, sort_keys=True)


def _symbolic(value: Any) -> list[str]:
    """A list-valued ``Fn::Split`` / ``Fn::Join`` worked out with each parameter as its
    ``${Name}``: one pattern per entry of a comma-separated parameter, written once."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::Split":
            delimiter, source = arg
            return "".join(_symbolic(source)).split(delimiter)
        if key == "Fn::Join":
            delimiter, items = arg
            parts = [_symbolic(i) for i in _as_list(items)]
            return [delimiter.join(p for part in parts for p in part)]
    return [render(value)]


def _cell(items: list[str]) -> str:
    return "<br>".join(f"`{i}`" for i in items).replace("|", "\\|")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition(condition: dict[str, Any] | None) -> str:
    if not condition:
        return ""
    parts = []
    for operator, tests in condition.items():
        for key, expected in tests.items():
            values = " or ".join(render(v) for v in _as_list(expected))
            parts.append(f"{operator} {key} = {values}")
    return _cell(parts)


def _unwrap(statement: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A statement, and the template condition it exists under (``!If [C, stmt, NoValue]``)."""
    if set(statement) == {"Fn::If"}:
        condition, yes, _ = statement["Fn::If"]
        return yes, str(condition)
    return statement, ""


def _words(sid: str) -> str:
    """A Sid as words (``WriteRunManifest``: "Write run manifest."), when no comment says more."""
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", sid)
    return (" ".join([words[0], *(w.lower() for w in words[1:])]) + ".") if words else ""


def _statements_table(
    rows: list[tuple[str, dict[str, Any]]],
    why: dict[str, str] | None = None,
    fallback: str = "",
) -> list[str]:
    """One row per statement; ``why``: the template's comment on each statement, by Sid (else
    ``fallback``, the managed policy's description, else the Sid in words)."""
    lines = [
        "| statement | effect | actions | resources | condition | why |",
        "|---|---|---|---|---|---|",
    ]
    for label, wrapped in rows:
        statement, when = _unwrap(wrapped)
        sid = statement.get("Sid", "")
        condition = _condition(statement.get("Condition"))
        if when:  # the template's condition: the statement exists only when it holds
            condition = "<br>".join(c for c in (f"only if `{when}`", condition) if c)
        actions = [render(a) for a in _as_list(statement.get("Action", []))]
        resources = [render(r) for r in _as_list(statement.get("Resource", []))]
        if "NotResource" in statement:
            excluded = statement["NotResource"]
            patterns = _symbolic(excluded) if _intrinsic(excluded) else _as_list(excluded)
            resources = [f"all but {render(r)}" for r in patterns]
        reason = (why or {}).get(sid) or fallback or _words(sid)
        reason = reason.replace("|", "\\|")
        lines.append(
            f"| {label} | {statement.get('Effect', '')} | {_cell(actions)} | {_cell(resources)} "
            f"| {condition} | {reason} |"
        )
    return lines


def statement_comments(path: Path) -> dict[str, dict[str, str]]:
    """The comment block written just above each ``- Sid: NAME`` of a template, by resource
    (the top-level logical id it is under) and Sid: why the statement is there."""
    found: dict[str, dict[str, str]] = {}
    resource, comment = "", []
    for line in path.read_text().splitlines():
        top = re.match(r"^  (\w+):\s*$", line)
        if top:
            resource, comment = top[1], []
            continue
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        sid = re.match(r"^-\s+(?:Sid:\s*(\w+))?", stripped)
        if sid and sid[1] and comment:
            found.setdefault(resource, {})[sid[1]] = " ".join(comment)
        elif re.fullmatch(r"- (!If|\w+)", stripped):
            continue  # `- !If` and its condition: the comment is the statement's inside it
        comment = []
    return found


def _trust(role: dict[str, Any]) -> str:
    who = []
    for statement in role.get("AssumeRolePolicyDocument", {}).get("Statement", []):
        principal = statement.get("Principal", {})
        for kind in ("Service", "AWS"):
            who += [f"`{render(p)}`" for p in _as_list(principal.get(kind, []))]
        condition = statement.get("Condition")
        if condition:
            who.append("when " + _condition(condition).replace("<br>", " and "))
    return " ".join(who) or "(no trust policy)"


def _policy_rows(
    role: dict[str, Any], sources: list[Any] | None
) -> list[tuple[str, dict[str, Any]]]:
    """(label, statement) of a role's inline policies; SAM policy templates by their name."""
    rows = []
    # A SAM Policies entry is a managed policy (a name, an ARN or an intrinsic such as !Ref),
    # an inline policy document, or a policy template; the inline ones become role.Policies.
    inline = [s for s in sources or [] if isinstance(s, dict) and not _intrinsic(s)]
    for index, policy in enumerate(role.get("Policies", [])):
        source = inline[index] if len(inline) == len(role.get("Policies", [])) else None
        template = None
        if isinstance(source, dict) and "Statement" not in source:
            template = next(iter(source))
        for statement in policy["PolicyDocument"].get("Statement", []):
            if template:
                label = f"`{template}` (SAM policy template)"
            else:
                label = _unwrap(statement)[0].get("Sid") or policy.get("PolicyName", "")
            rows.append((label, statement))
    return rows


def _intrinsic(value: Any) -> bool:
    """An intrinsic function (``{"Ref": ...}``, ``{"Fn::...": ...}``)."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and ("Ref" in value or next(iter(value)).startswith("Fn::"))
    )


def _managed(role: dict[str, Any]) -> list[str]:
    """The AWS managed policies of a role, each with what it allows."""
    names = [arn.rsplit("/", 1)[-1] for arn in role.get("ManagedPolicyArns", [])
             if isinstance(arn, str)]  # fmt: skip
    return [f"`{n}` ({MANAGED.get(n, 'see the AWS managed policy reference')})" for n in names]


def _customer_managed(
    role: dict[str, Any], resources: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of the template's managed policies a role lists (by !Ref)."""
    found = []
    for arn in role.get("ManagedPolicyArns", []):
        if not _intrinsic(arn):
            continue
        name = arn.get("Ref")
        if name is None or resources.get(name, {}).get("Type") != "AWS::IAM::ManagedPolicy":
            raise SystemExit(f"cannot document managed policy {render(arn)}: not a !Ref to one")
        found.append((name, resources[name]["Properties"]))
    return found


def _role_section(
    title: str, intro: str, role_id: str, role: dict[str, Any], sources: list[Any] | None,
    resources: dict[str, Any], shared_managed: list[str] | None = None,
    why: dict[str, dict[str, str]] | None = None,
) -> list[str]:  # fmt: skip
    why = why or {}
    lines = [f"#### {title}", "", intro, "", f"Role `{role_id}`, trusted by {_trust(role)}."]
    managed = _managed(role)
    if managed and managed != shared_managed:
        lines.append(f"AWS managed policies: {'; '.join(managed)}.")
    shared = _customer_managed(role, resources)
    if shared:
        names = ", ".join(f"`{name}`" for name, _ in shared)
        lines.append(f"Managed policies of the template: {names} (their statements below).")
    rows = _policy_rows(role, sources)
    lines.append("")
    if rows:
        lines += [*_statements_table(rows, why.get(title)), ""]
    for name, policy in shared:
        description = policy.get("Description", "")
        lines += [f"`{name}`{f': {description}' if description else ''}.", ""]
        statements = policy["PolicyDocument"].get("Statement", [])
        table = [(_unwrap(s)[0].get("Sid", name), s) for s in statements]
        lines += [*_statements_table(table, why.get(name), f"{description}."), ""]
    return lines


def iam_tables() -> str:
    """The policies of every role the two templates create, as tables."""
    from albrules.local.deploy import load_template, parameter_values, translate

    sam = load_template(ROOT / "template.yaml")
    why = statement_comments(ROOT / "template.yaml")
    values = parameter_values(sam, {"MemberExternalId": "not-shown"})
    translated, _, _ = translate(sam, "us-east-1", values)
    resources = translated["Resources"]
    sam_resources = sam["Resources"]

    def role_of(logical_id: str) -> tuple[str, dict[str, Any]]:
        role_id = f"{logical_id}Role"
        return role_id, resources[role_id]["Properties"]

    functions = [k for k, v in sam_resources.items() if v["Type"] == "AWS::Serverless::Function"]
    machines = [k for k, v in sam_resources.items() if v["Type"] == "AWS::Serverless::StateMachine"]
    generated = {f"{k}Role" for k in functions + machines}
    plain = [
        k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role" and k not in generated
    ]

    shared = None
    managed_sets = [_managed(role_of(f)[1]) for f in functions]
    if managed_sets and all(m == managed_sets[0] for m in managed_sets):
        shared = managed_sets[0]
    lines = ["### Lambda functions (template.yaml)", ""]
    if shared:
        lines += [
            f"Every function's role also has the AWS managed policies {'; '.join(shared)}.",
            "",
        ]
    for logical_id in functions:
        props = sam_resources[logical_id].get("Properties", {})
        intro = (
            f"{props.get('Description', '')}: handler `{props.get('Handler', '')}` in "
            f"`{props.get('CodeUri', '')}`."
        )
        role_id, role = role_of(logical_id)
        lines += _role_section(
            logical_id, intro, role_id, role, props.get("Policies"), resources, shared, why
        )
    lines += ["### State machines (template.yaml)", ""]
    for logical_id in machines:
        props = sam_resources[logical_id].get("Properties", {})
        intro = f"Runs `{props.get('DefinitionUri', '')}`."
        role_id, role = role_of(logical_id)
        lines += _role_section(
            logical_id, intro, role_id, role, props.get("Policies"), resources, why=why
        )
    lines += ["### Other roles (template.yaml)", ""]
    for logical_id in plain:
        role = resources[logical_id]["Properties"]
        users = [
            k
            for k, v in resources.items()
            if f'"{logical_id}"' in json.dumps(v.get("Properties", {})) and k != logical_id
        ]
        intro = f"Used by {', '.join(f'`{u}`' for u in users) or 'nothing in the template'}."
        lines += _role_section(logical_id, intro, logical_id, role, None, resources, why=why)
    member = load_template(ROOT / "member-account.yaml")
    member_why = statement_comments(ROOT / "member-account.yaml")
    lines += ["### The member account (member-account.yaml)", ""]
    outputs = sam.get("Outputs") or {}
    for parameter, output in (
        ("TrustedRoleArns", "MemberTrustedRoleArns"),
        ("ReadOnlyTrustedRoleArns", "MemberReadOnlyTrustedRoleArns"),
    ):
        trusted = outputs.get(output, {}).get("Value")
        if trusted:
            lines += [
                f"Its `{parameter}` parameter takes the central stack's `{output}` output: the "
                "ARNs of "
                + re.sub(r"\$\{(\w+)\.Arn\}", r"`\1`", render(trusted)).replace(",", ", ")
                + ".",
                "",
            ]
    for logical_id, resource in member["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        role = resource["Properties"]
        intro = f"{role.get('Description', '')}; named by its `{render(role.get('RoleName'))}` "
        intro = intro.replace("`${", "`").replace("}` ", "` ") + "parameter."
        lines += _role_section(
            logical_id, intro, logical_id, role, None, member["Resources"], why=member_why
        )
    return "\n".join(lines).rstrip("\n")


# --- all of it ------------------------------------------------------------------------------

BLOCKS: dict[str, tuple[Path, Callable[[], str]]] = {
    "graph-backup": (README, lambda: diagram("backup")),
    "graph-restore": (README, lambda: diagram("restore")),
    "graph-changes": (README, lambda: diagram("changes")),
    "cli-reference": (README, cli_reference),
    "iam-roles": (IAM, iam_tables),
}


def _label(path: Path, name: str) -> str:
    try:
        where = str(path.relative_to(ROOT))
    except ValueError:
        where = path.name
    return f"{where}: {name}"


def stale(blocks: dict[str, tuple[Path, Callable[[], str]]] | None = None) -> list[str]:
    """The generated blocks whose text differs from what this script writes."""
    return [
        _label(path, name)
        for name, (path, make) in (blocks or BLOCKS).items()
        if current(path, name) != make().strip("\n")
    ]


def write(blocks: dict[str, tuple[Path, Callable[[], str]]] | None = None) -> list[str]:
    """Rewrite every generated block; the ones that changed."""
    changed = []
    for name, (path, make) in (blocks or BLOCKS).items():
        text = path.read_text()
        updated = replace(text, name, make(), path)
        if updated != text:
            path.write_text(updated)
            changed.append(_label(path, name))
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say what is out of date")
    args = parser.parse_args()
    if args.check:
        out_of_date = stale()
        for item in out_of_date:
            print(f"out of date: {item}; run {COMMAND}")
        return 1 if out_of_date else 0
    for item in write():
        print(f"rewrote {item}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
