"""The docs say what the code and the templates do: the generated parts are current, the CLI
reference covers every command, every link leads somewhere, the runbook names every error.

The generated parts (README's diagrams and CLI reference, docs/iam.md's role tables) are
written by scripts/gen_docs.py; when one of these tests fails, run it and commit the result.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from albrules import errors
from albrules.cli import app

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `.venv/bin/python scripts/gen_docs.py` and commit what it rewrites"
DOCS = [ROOT / "README.md", ROOT / "docs" / "runbook.md", ROOT / "docs" / "iam.md"]


@pytest.fixture(scope="module")
def gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prose(text: str) -> str:
    """Markdown without fenced code blocks and HTML comments (no headings or links there)."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return re.sub(r"(?ms)^```.*?^```[ \t]*$", "", text)


# --- generated parts ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["backup", "restore"])
def test_the_readme_diagrams_are_what_albrules_graph_prints(gen_docs, kind, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    printed = CliRunner().invoke(app, ["graph", kind])
    assert printed.exit_code == 0, printed.stderr
    shown = gen_docs.current(gen_docs.README, f"graph-{kind}")
    assert shown == f"```mermaid\n{printed.stdout}```", (
        f"README.md's {kind} diagram differs from `albrules graph {kind}` for "
        f"statemachine/{kind}.asl.json; {REGENERATE}"
    )


def test_docs_iam_matches_the_templates(gen_docs) -> None:
    shown = gen_docs.current(gen_docs.IAM, "iam-roles")
    assert shown == gen_docs.iam_tables(), (
        f"docs/iam.md's role tables differ from template.yaml / member-account.yaml; {REGENERATE}"
    )


def test_the_iam_tables_hold_every_role_and_statement(gen_docs) -> None:
    """The generator itself misses nothing: every role of both templates, every Sid."""
    from albrules.local.deploy import load_template

    tables = gen_docs.iam_tables()
    sam = load_template(ROOT / "template.yaml")
    member = load_template(ROOT / "member-account.yaml")
    kinds = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::IAM::Role")
    for template in (sam, member):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] not in kinds:
                continue
            assert f"#### {logical_id}\n" in tables, logical_id
            policies = str(resource["Properties"].get("Policies"))  # not the trust policy
            for sid in re.findall(r"'Sid': '(\w+)'", policies):
                assert f"| {sid} |" in tables, f"{logical_id}: {sid}"
    assert "`LambdaInvokePolicy` (SAM policy template) | Allow | `lambda:InvokeFunction`" in tables
    # A shared managed policy's statements are in the section of each role that lists it.
    resources = sam["Resources"]
    for name, policy in resources.items():
        if policy["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        for logical_id, resource in resources.items():
            props = resource.get("Properties") or {}
            if {"Ref": name} not in (props.get("Policies") or []) + (
                props.get("ManagedPolicyArns") or []
            ):
                continue
            section = tables.split(f"#### {logical_id}\n", 1)[1].split("\n#### ", 1)[0]
            group = section.split(f"\n`{name}`: ", 1)[1].split("\n\n`", 1)[0]
            for statement in statements:
                statement = statement.get("Fn::If", [None, statement])[1]  # !If [C, it, NoValue]
                assert f"| {statement['Sid']} |" in group, f"{logical_id}: {name}"


def test_the_cli_reference_is_current_and_has_every_command(gen_docs) -> None:
    readme = (ROOT / "README.md").read_text()
    names = gen_docs.command_names()
    assert {"backup", "restore", "drift", "graph", "watch", "local deploy"} <= set(names)
    missing = [n for n in names if n not in gen_docs.EXIT_CODES]
    assert not missing, f"no exit codes for {missing} in scripts/gen_docs.py EXIT_CODES; add them"
    for name in names:
        assert re.search(rf"^### `albrules {re.escape(name)}\b", readme, re.M), (
            f"`albrules {name}` is missing from README.md's CLI reference; {REGENERATE}"
        )
    assert gen_docs.current(gen_docs.README, "cli-reference") == gen_docs.cli_reference(), (
        f"README.md's CLI reference differs from the CLI's options and help; {REGENERATE}"
    )


def test_the_check_mode_finds_a_stale_block(gen_docs, tmp_path) -> None:
    """`gen_docs.py --check` reports a block that no longer matches; writing puts it right."""
    original = (ROOT / "README.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text(original.replace("flowchart TD", "flowchart LR", 1))
    blocks = {name: (readme, make) for name, (path, make) in gen_docs.BLOCKS.items()
              if path.name == "README.md"}  # fmt: skip
    assert gen_docs.stale(blocks) == ["README.md: graph-backup"]
    assert gen_docs.write(blocks) == ["README.md: graph-backup"]
    assert gen_docs.stale(blocks) == []
    assert readme.read_text() == original


# --- links ----------------------------------------------------------------------------------


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_points_to_something_that_exists(doc: Path) -> None:
    text = doc.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", prose(text))
    for link in links:
        if re.match(r"^[a-z]+://", link):
            continue
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        assert target.exists(), f"{doc.name} links to {link}, which does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in github_anchors(target.read_text()), (
                f"{doc.name} links to {link}, but {target.name} has no heading #{anchor}"
            )


def test_the_readme_links_the_docs() -> None:
    readme = prose((ROOT / "README.md").read_text())
    for doc in ("docs/runbook.md", "docs/iam.md", "docs/workflows.md", "docs/benchmarks.md"):
        assert f"]({doc})" in readme, doc
    assert "](CHANGELOG.md)" in readme


# --- the runbook ----------------------------------------------------------------------------


def error_names() -> set[str]:
    """Every error name an execution or a task can end with: the Fail states' and the caught
    errors of both ASL files, and the exception classes of albrules.errors."""
    names = {
        cls.__name__
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.AlbRulesError)
    }
    for kind in ("backup", "restore"):
        text = (ROOT / "statemachine" / f"{kind}.asl.json").read_text()
        machine = json.loads(text)
        names |= set(re.findall(r'"Error": "([\w.]+)"', json.dumps(machine)))
        for errors_caught in re.findall(r'"ErrorEquals": \[([^\]]*)\]', json.dumps(machine)):
            names |= set(re.findall(r'"([\w.]+)"', errors_caught))
    return {n for n in names if not n.startswith(("Lambda.", "SNS.", "States.ALL"))}


def test_the_runbook_explains_every_error_and_exit_code() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    names = error_names()
    assert {
        "RollbackFailed",
        "RestoreRolledBack",
        "BackupIncomplete",
        "TargetGroupsMissing",
    } <= names
    missing = sorted(n for n in names if f"`{n}`" not in runbook)
    assert not missing, f"docs/runbook.md does not say what these errors mean: {missing}"
    table = runbook.split("## CLI exit codes", 1)[1]
    for code in range(6):
        assert re.search(rf"^\| `{code}` \|", table, re.M), f"exit code {code} is not explained"
