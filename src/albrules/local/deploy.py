"""Deploy the SAM application (``template.yaml``) into the embedded local AWS.

moto's CloudFormation cannot do it: it does not run the SAM transform, and state machines it
creates are invisible to moto's Step Functions interpreter. So this module does what
CloudFormation would, through the ordinary AWS APIs of whatever the boto3 clients point at:

1. translate the SAM template with ``samtranslator`` (the SAM CLI's own translator; local
   ``CodeUri``/``ContentUri``/``DefinitionUri`` paths are swapped for placeholder S3
   locations first, as ``sam package`` would upload them);
2. resolve the intrinsic functions (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``,
   ``Fn::If`` and conditions, ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``,
   ``Fn::Base64``, ``Fn::GetAZs``, ``AWS::NoValue``) with a small resolver;
3. create or update each resource in dependency order. State machines get the real ASL: the
   ``DefinitionUri`` file of the original template with every ``${Name}`` replaced by the
   resolved ``DefinitionSubstitutions``. Lambda functions get a tiny placeholder package: the
   project's handlers run in-process (``albrules.local.lambdas``);
4. resolve the ``Outputs`` and save a :class:`Deployment` under
   ``albrules_home()/local/deployments/<stack>.json``.

Every resource comes from the template; types the local AWS does not need (Lambda
permissions, layers...) are skipped and listed in ``Deployment.skipped``. Deploying again
updates in place (function configuration, state machine definition, ...). Names are
``<stack>-<LogicalId>`` unless the template names the resource.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import re
import secrets
import string
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard, cast
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError, ParamValidationError
from pydantic import BaseModel, Field

from ..errors import AlbRulesError, InvalidInput
from ..store import albrules_home

DEFAULT_STACK = "albrules"
PLACEHOLDER_BUCKET = "albrules-local-placeholder"
NO_VALUE = object()
PSEUDO = (
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::NoValue",
    "AWS::NotificationARNs",
)


class DeployFailed(AlbRulesError):
    """The template could not be deployed into the local AWS."""


class DeployedResource(BaseModel):
    type: str
    physical_id: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class Deployment(BaseModel):
    """What a local deploy created: enough for the CLI to find the machines and the table."""

    stack_name: str
    region: str
    account: str
    template: str
    endpoint_url: str | None = None
    deployed_at: str
    parameters: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    resources: dict[str, DeployedResource] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)  # logical id -> why
    notes: list[str] = Field(default_factory=list)
    # Required parameters nobody gave, with the values made up for this local stack
    # (:func:`local_defaults`); local-only, so kept and shown in the clear even if NoEcho.
    local_defaults: dict[str, str] = Field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise InvalidInput(
                f"stack {self.stack_name} has no deployed resource {logical_id}"
            ) from None

    def output(self, name: str) -> str:
        try:
            return self.outputs[name]
        except KeyError:
            raise InvalidInput(
                f"stack {self.stack_name} has no output {name} (it has "
                f"{', '.join(sorted(self.outputs)) or 'none'})"
            ) from None


def deployment_path(stack: str = DEFAULT_STACK) -> Path:
    return albrules_home() / "local" / "deployments" / f"{stack}.json"


def load_deployment(stack: str = DEFAULT_STACK) -> Deployment:
    """The saved result of ``deploy`` for ``stack``."""
    path = deployment_path(stack)
    if not path.exists():
        raise InvalidInput(
            f"stack {stack} was never deployed locally; run `albrules local deploy "
            f"--stack-name {stack}` first"
        )
    return Deployment.model_validate_json(path.read_text())


def previous_deployment(stack: str = DEFAULT_STACK) -> Deployment | None:
    """The saved deployment of ``stack``, or None if there is none (or it cannot be read)."""
    path = deployment_path(stack)
    try:
        return Deployment.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


# --- the SAM transform ------------------------------------------------------------------------


_PARSED: dict[str, tuple[str, dict[str, Any]]] = {}  # path -> (its text, the parse of it)


def load_template(path: Path) -> dict[str, Any]:
    """The template at ``path``, parsed (a copy of its own: the caller may change it). The
    parse of a text already read is kept: YAML parsing took a third of a local deploy."""
    from samtranslator.yaml_helper import yaml_parse

    if not path.is_file():
        raise InvalidInput(f"no template at {path}; give --template PATH")
    text = path.read_text()
    kept = _PARSED.get(str(path))
    if kept is not None and kept[0] == text:
        return copy.deepcopy(kept[1])
    try:
        template = yaml_parse(text)
    except Exception as err:
        raise InvalidInput(f"{path} is not valid YAML or JSON: {err}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise InvalidInput(f"{path} has no Resources section; is it a SAM template?")
    _PARSED[str(path)] = (text, copy.deepcopy(template))
    return template


def _is_local_path(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and not value.startswith("s3://")


def translate(
    template: dict[str, Any], region: str, parameters: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The CloudFormation template of a SAM template, each state machine's local
    ``DefinitionUri`` and each function's local ``CodeUri`` (logical id -> path as written in
    the template)."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator import transform as sam_transform
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    definitions: dict[str, str] = {}
    codes: dict[str, str] = {}
    placeholder = f"s3://{PLACEHOLDER_BUCKET}/package.zip"
    globals_ = template.get("Globals") or {}
    global_code = (globals_.get("Function") or {}).get("CodeUri")
    for section, key in (("Function", "CodeUri"), ("LayerVersion", "ContentUri")):
        if _is_local_path((globals_.get(section) or {}).get(key)):
            globals_[section][key] = placeholder
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        props = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        if kind == "AWS::Serverless::Function":
            code = props.get("CodeUri", global_code)
            if _is_local_path(code):
                codes[logical_id] = code
            if _is_local_path(props.get("CodeUri")):
                props["CodeUri"] = placeholder
        elif kind == "AWS::Serverless::LayerVersion" and _is_local_path(props.get("ContentUri")):
            props["ContentUri"] = placeholder
        elif kind == "AWS::Serverless::StateMachine" and _is_local_path(props.get("DefinitionUri")):
            definitions[logical_id] = props["DefinitionUri"]
            props["DefinitionUri"] = {"Bucket": PLACEHOLDER_BUCKET, "Key": f"{logical_id}.json"}
    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    sam_transform.to_py27_compatible_template(template, parameters)
    try:
        translated = translator.translate(
            template, parameter_values=dict(parameters), get_managed_policy_map=lambda: {}
        )
    except InvalidDocumentException as err:
        causes = "; ".join(str(c.message) for c in err.causes) or str(err)
        raise InvalidInput(f"the SAM template does not translate: {causes}") from None
    finally:
        translator.metrics.publish()  # to its dummy publisher; silences a warning
    return sam_transform.undo_mark_unicode_str_in_template(translated), definitions, codes


# --- intrinsic functions ---------------------------------------------------------------------

_SUB = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Resolves CloudFormation intrinsics against parameters, pseudo-parameters and the
    resources deployed so far."""

    def __init__(self, template: dict[str, Any], values: dict[str, Any]):
        self.template = template
        self.values = values  # parameters and pseudo-parameters
        self.refs: dict[str, Any] = {}
        self.attributes: dict[str, dict[str, Any]] = {}
        self.skipped: set[str] = set()
        self._conditions: dict[str, bool] = {}

    # conditions
    def condition(self, name: str, where: str = "Conditions") -> bool:
        if name not in self._conditions:
            definitions = self.template.get("Conditions") or {}
            if name not in definitions:
                raise InvalidInput(f"{where} uses condition {name}, which the template lacks")
            self._conditions[name] = bool(self.resolve(definitions[name], f"condition {name}"))
        return self._conditions[name]

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic resolved; ``AWS::NoValue`` entries dropped."""
        if isinstance(value, list):
            items = [self.resolve(v, where) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if (
                key == "Ref"
                or key.startswith("Fn::")
                or (key == "Condition" and isinstance(arg, str))
            ):
                return self._intrinsic(key, arg, where)
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item, where)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def ref(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            declared = (self.template.get("Parameters") or {}).get(name) or {}
            if declared.get("Type") == "CommaDelimitedList":  # Ref gives the list, as in AWS
                return [item.strip() for item in _text(self.values[name]).split(",")]
            return self.values[name]
        if name in self.refs:
            return self.refs[name]
        if name in (self.template.get("Resources") or {}):
            raise DeployFailed(f"{where} refers to {name}, which is not deployed yet")
        raise InvalidInput(f"{where} refers to {name}, which is neither a parameter nor a resource")

    def get_att(self, name: str, attribute: str, where: str) -> Any:
        if name in self.skipped:
            raise InvalidInput(
                f"{where} reads {name}.{attribute}, but {name} is of a type the local AWS "
                "does not deploy"
            )
        attributes = self.attributes.get(name)
        if attributes is None:
            return self.ref(name, where)  # raises the right error
        if attribute not in attributes:
            raise InvalidInput(
                f"{where} reads {name}.{attribute}; the local deploy knows only "
                f"{', '.join(sorted(attributes)) or 'no attributes'} of {name}"
            )
        return attributes[attribute]

    def _sub(self, text: str, variables: dict[str, Any], where: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                resource, _, attribute = name.partition(".")
                value = self.get_att(resource, attribute, where)
            else:
                value = self.ref(name, where)
            return _text(value)

        return _SUB.sub(replace, text)

    def _intrinsic(self, key: str, arg: Any, where: str) -> Any:
        if key == "Ref":
            return self.ref(arg, where)
        if key == "Condition":
            return self.condition(arg, where)
        if key == "Fn::GetAtt":
            name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(name, self.resolve(attribute, where), where)
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return self._sub(arg, {}, where)
            text, variables = arg
            return self._sub(text, self.resolve(variables, where), where)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(_text(v) for v in self.resolve(items, where))
        if key == "Fn::Select":
            index, items = self.resolve(arg, where)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = self.resolve(arg, where)
            return text.split(separator)
        if key == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name, where) else no, where)
        if key == "Fn::Equals":
            left, right = self.resolve(arg, where)
            return _text(left) == _text(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0], where)
        if key == "Fn::And":
            return all(self.resolve(v, where) for v in arg)
        if key == "Fn::Or":
            return any(self.resolve(v, where) for v in arg)
        if key == "Fn::FindInMap":
            mapping, first, second = self.resolve(arg, where)
            try:
                return self.template["Mappings"][mapping][first][second]
            except KeyError:
                raise InvalidInput(f"{where}: no {mapping}/{first}/{second} in Mappings") from None
        if key == "Fn::Base64":
            return base64.b64encode(_text(self.resolve(arg, where)).encode()).decode()
        if key == "Fn::GetAZs":
            region = self.resolve(arg, where) or self.values["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        raise InvalidInput(f"{where} uses {key}, which the local deploy cannot resolve")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def references(value: Any) -> set[str]:
    """The names (resources, parameters, conditions aside) that ``value`` refers to."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                found |= {
                    m.split(".", 1)[0]
                    for m in _SUB.findall(text)
                    if not m.startswith(("!", "AWS::")) and m not in variables
                }
                found |= references(variables)
            else:
                found |= references(arg)
    return found


def deployment_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids in dependency order (template order among independent ones)."""
    needs: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn") or []
        depends = [depends] if isinstance(depends, str) else depends
        refs = references(resource.get("Properties") or {}) | set(depends)
        needs[logical_id] = {r for r in refs if r in resources and r != logical_id}
    order: list[str] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise InvalidInput(f"the template's resources refer to each other in a cycle: {cycle}")
        visiting.append(name)
        for dependency in sorted(needs[name], key=list(resources).index):
            visit(dependency)
        visiting.pop()
        done.add(name)
        order.append(name)

    for logical_id in resources:
        visit(logical_id)
    return order


# --- parameters -----------------------------------------------------------------------------


def parameter_values(template: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, str]:
    declared = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise InvalidInput(
            f"the template has no parameter {', '.join(unknown)} (it has "
            f"{', '.join(declared) or 'none'})"
        )
    values: dict[str, str] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise InvalidInput(f"parameter {name} has no default; give {name}=VALUE")
        value = _text(value)
        kind = spec.get("Type", "String")
        if kind == "Number":
            try:
                number = float(value)
            except ValueError:
                raise InvalidInput(f"parameter {name} must be a number, not {value!r}") from None
            low, high = spec.get("MinValue"), spec.get("MaxValue")
            if (low is not None and number < float(low)) or (
                high is not None and number > float(high)
            ):
                raise InvalidInput(f"parameter {name}={value} is outside {low}..{high}")
        allowed = spec.get("AllowedValues")
        if allowed and value not in [_text(a) for a in allowed]:
            raise InvalidInput(f"parameter {name} must be one of {allowed}, not {value!r}")
        pattern = spec.get("AllowedPattern")
        # A CommaDelimitedList's pattern applies to each of its values (CloudFormation User
        # Guide, Parameters: AllowedPattern).
        items = [v.strip() for v in value.split(",")] if kind == "CommaDelimitedList" else [value]
        if pattern and not all(re.fullmatch(pattern, item) for item in items):
            raise InvalidInput(f"parameter {name}={value!r} does not match {pattern}")
        values[name] = value
    return values


def local_defaults(
    template: dict[str, Any], given: dict[str, Any] | None, previous: Deployment | None = None
) -> dict[str, str]:
    """Values for the parameters the template requires (no ``Default``) and ``given`` lacks,
    made up for the local stack: the value the previous deployment made up, if any, so it
    stays the same across deploys; else the first of ``AllowedValues``, ``MinValue`` (or 0)
    for a Number, or ``local-`` and random hex. Nothing outside the local AWS trusts them."""
    given = given or {}
    kept = previous.local_defaults if previous else {}
    filled: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        spec = spec or {}
        if name in given or "Default" in spec:
            continue
        if name in kept:
            filled[name] = kept[name]
        elif spec.get("AllowedValues"):
            filled[name] = _text(spec["AllowedValues"][0])
        elif spec.get("Type", "String") == "Number":
            filled[name] = _text(spec.get("MinValue", 0))
        else:
            filled[name] = f"local-{secrets.token_hex(8)}"
    return filled


# --- resources ------------------------------------------------------------------------------


def code_zip(folder: Path) -> bytes:
    """A function's deployment package, as `sam build` makes it from its ``CodeUri``: the
    folder's files (caches left out), zipped with stable timestamps. The engine and its
    dependencies come from the layer (locally: the installed albrules package)."""
    if not folder.is_dir():
        raise InvalidInput(f"CodeUri {folder} is not a directory; give each function its folder")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                info = zipfile.ZipInfo(str(file.relative_to(folder)), (1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def _zip_names(package: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return set(archive.namelist())


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _true(value: Any) -> bool:
    """A CloudFormation Boolean property (true, or the string "true", any case)."""
    return value is True or str(value).lower() == "true"


def _tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): _text(v) for k, v in tags.items()}
    return {t["Key"]: _text(t["Value"]) for t in tags or []}


def _ints(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: int(mapping[k]) for k in keys if k in mapping}


class _Deployer:
    def __init__(self, aws: Any, stack: str, region: str, account: str, template_dir: Path) -> None:
        self.aws = aws
        self.stack = stack
        self.region = region
        self.account = account
        self.template_dir = template_dir
        self.notes: list[str] = []
        self.unattached: set[str] = set()  # AWS managed policies moto does not load
        self.definitions: dict[str, str] = {}
        self.codes: dict[str, str] = {}

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def name(self, logical_id: str, limit: int, *, lower: bool = False, extra: str = "") -> str:
        name = f"{self.stack}-{logical_id}{extra}"
        if lower:
            name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
        if len(name) > limit:
            digest = hashlib.sha256(name.encode()).hexdigest()[:8]
            name = f"{name[: limit - 9].rstrip('-')}-{digest}"
        return name

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"

    # Each creator returns (physical id = Ref value, attributes for Fn::GetAtt).

    def kms_key(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = self.client("kms")
        key_id = None
        for page in kms.get_paginator("list_keys").paginate():
            for key in page["Keys"]:
                tags = {
                    t["TagKey"]: t["TagValue"]
                    for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
                }
                if tags.get("albrules:stack") == self.stack and (
                    tags.get("albrules:logical-id") == logical_id
                ):
                    state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
                    if state not in ("PendingDeletion", "PendingReplicaDeletion"):
                        key_id = key["KeyId"]
        policy = props.get("KeyPolicy")
        if key_id is None:
            tags = {**_tags_dict(props.get("Tags")), "albrules:stack": self.stack}
            tags["albrules:logical-id"] = logical_id
            kwargs: dict[str, Any] = {
                "Description": props.get("Description", f"{self.stack} {logical_id}"),
                "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
                "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
                "Tags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()],
            }
            if policy:
                kwargs["Policy"] = json.dumps(policy)
            key_id = kms.create_key(**kwargs)["KeyMetadata"]["KeyId"]
        elif policy:
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
        if str(props.get("EnableKeyRotation", "false")).lower() == "true":
            kms.enable_key_rotation(KeyId=key_id)
        arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        return key_id, {"Arn": arn, "KeyId": key_id}

    def kms_alias(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = self.client("kms")
        name, target = props["AliasName"], props["TargetKeyId"]
        try:
            kms.create_alias(AliasName=name, TargetKeyId=target)
        except ClientError as err:
            if _code(err) != "AlreadyExistsException":
                raise
            kms.update_alias(AliasName=name, TargetKeyId=target)
        return name, {}

    def s3_bucket(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        s3 = self.client("s3")
        name = props.get("BucketName") or self.name(
            logical_id, 63, lower=True, extra=f"-{self.account}-{self.region}"
        )
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        lock = props.get("ObjectLockConfiguration") or {}
        locked = _true(props.get("ObjectLockEnabled")) or lock.get("ObjectLockEnabled") == "Enabled"
        if locked:
            kwargs["ObjectLockEnabledForBucket"] = True  # versioned from the start, as on AWS
        created = True
        try:
            s3.create_bucket(**kwargs)
        except ClientError as err:
            if _code(err) != "BucketAlreadyOwnedByYou":
                raise
            created = False
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
            )
        if locked and (not created or lock.get("Rule")):
            # An update enables Object Lock on the existing (versioned) bucket, as CloudFormation
            # does (ObjectLockEnabled is not a create-only property); Rule: a default retention.
            config: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
            if lock.get("Rule"):
                config["Rule"] = lock["Rule"]
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=config)
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        _encryption_rule(rule)
                        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "LifecycleConfiguration" in props:
            rules = [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": rules}
            )
        if props.get("Tags"):
            s3.put_bucket_tagging(
                Bucket=name,
                Tagging={
                    "TagSet": [{"Key": k, "Value": v} for k, v in _tags_dict(props["Tags"]).items()]
                },
            )
        return name, {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
        }

    def s3_bucket_policy(
        self, logical_id: str, props: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        self.client("s3").put_bucket_policy(
            Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
        )
        return props["Bucket"], {}

    def dynamodb_table(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ddb = self.client("dynamodb")
        name = props.get("TableName") or self.name(logical_id, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if "ProvisionedThroughput" in props:
            kwargs["ProvisionedThroughput"] = _ints(
                props["ProvisionedThroughput"], "ReadCapacityUnits", "WriteCapacityUnits"
            )
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                kwargs[key] = props[key]
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        sse = props.get("SSESpecification")
        if sse:
            kwargs["SSESpecification"] = {
                "Enabled": str(sse.get("SSEEnabled", "false")).lower() == "true",
                **{k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse},
            }
        if props.get("Tags"):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in _tags_dict(props["Tags"]).items()]
        try:
            table = ddb.create_table(**kwargs)["TableDescription"]
        except ClientError as err:
            if _code(err) != "ResourceInUseException":
                raise
            table = ddb.describe_table(TableName=name)["Table"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            wanted = str(ttl.get("Enabled", "false")).lower() == "true"
            enabled = current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            if wanted != enabled or (
                wanted and current.get("AttributeName") != ttl["AttributeName"]
            ):
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": wanted,
                    },
                )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr:
            ddb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": str(
                        pitr.get("PointInTimeRecoveryEnabled", "false")
                    ).lower()
                    == "true"
                },
            )
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return name, attributes

    def sns_topic(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        sns = self.client("sns")
        name = props.get("TopicName") or self.name(
            logical_id, 256, extra=".fifo" if props.get("FifoTopic") else ""
        )
        attributes = {
            key: _text(props[key])
            for key in ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication")
            if key in props
        }
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        for key, value in attributes.items():  # create_topic keeps an existing topic's
            sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
        existing = {
            (s["Protocol"], s["Endpoint"])
            for s in sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", [])
        }
        for subscription in props.get("Subscription") or []:
            if (subscription["Protocol"], subscription["Endpoint"]) not in existing:
                sns.subscribe(
                    TopicArn=arn,
                    Protocol=subscription["Protocol"],
                    Endpoint=subscription["Endpoint"],
                )
        return arn, {"TopicArn": arn, "TopicName": name}

    def sqs_queue(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        sqs = self.client("sqs")
        fifo = str(props.get("FifoQueue", "false")).lower() == "true"
        name = props.get("QueueName") or self.name(logical_id, 80, extra=".fifo" if fifo else "")
        attributes = {
            key: json.dumps(value) if isinstance(value, dict) else _text(value)
            for key, value in props.items()
            if key
            in (
                "DelaySeconds",
                "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds",
                "MaximumMessageSize",
                "MessageRetentionPeriod",
                "ReceiveMessageWaitTimeSeconds",
                "VisibilityTimeout",
                "RedrivePolicy",
                "SqsManagedSseEnabled",
                "ContentBasedDeduplication",
            )
        }
        if fifo:
            attributes["FifoQueue"] = "true"
        try:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except ClientError as err:
            if "QueueAlreadyExists" not in _code(err) and "QueueNameExists" not in _code(err):
                raise
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attributes.pop("FifoQueue", None)
            if attributes:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, {"Arn": arn, "QueueUrl": url, "QueueName": name}

    def secret(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        sm = self.client("secretsmanager")
        name = props.get("Name") or self.name(logical_id, 512)
        try:
            arn = sm.describe_secret(SecretId=name)["ARN"]
        except ClientError as err:
            if _code(err) != "ResourceNotFoundException":
                raise
            kwargs: dict[str, Any] = {"Name": name, "SecretString": _secret_value(props)}
            for key in ("Description", "KmsKeyId"):
                if key in props:
                    kwargs[key] = props[key]
            if props.get("Tags"):
                kwargs["Tags"] = [
                    {"Key": k, "Value": v} for k, v in _tags_dict(props["Tags"]).items()
                ]
            arn = sm.create_secret(**kwargs)["ARN"]
        else:  # keep the value (a redeploy must not rotate it), update the rest
            update = {k: props[k] for k in ("Description", "KmsKeyId") if k in props}
            if update:
                sm.update_secret(SecretId=arn, **update)
        return arn, {"Id": arn}

    def iam_role(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = self.client("iam")
        name = props.get("RoleName") or self.name(logical_id, 64)
        trust = json.dumps(props["AssumeRolePolicyDocument"])
        try:
            kwargs: dict[str, Any] = {
                "RoleName": name,
                "AssumeRolePolicyDocument": trust,
                "Path": props.get("Path", "/"),
            }
            if props.get("Description"):
                kwargs["Description"] = props["Description"]
            if props.get("Tags"):
                kwargs["Tags"] = [
                    {"Key": k, "Value": v} for k, v in _tags_dict(props["Tags"]).items()
                ]
            role = iam.create_role(**kwargs)["Role"]
        except ClientError as err:
            if _code(err) != "EntityAlreadyExists":
                raise
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            role = iam.get_role(RoleName=name)["Role"]
        inline = {policy["PolicyName"]: policy for policy in props.get("Policies") or []}
        for policy in inline.values():
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=_policy(policy["PolicyDocument"]),
            )
        wanted = list(props.get("ManagedPolicyArns") or [])
        # As CloudFormation updates a role: what the template no longer lists goes.
        for old in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            if old not in inline:
                iam.delete_role_policy(RoleName=name, PolicyName=old)
        attached = {
            p["PolicyArn"]
            for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        }
        for policy_arn in attached - set(wanted):
            iam.detach_role_policy(RoleName=name, PolicyArn=policy_arn)
        for policy_arn in wanted:
            if policy_arn in attached:  # attaching again is a no-op in IAM (moto counts it)
                continue
            try:
                iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
            except ClientError as err:
                if _code(err) not in ("NoSuchEntity", "NoSuchEntityException"):
                    raise
                if not _aws_managed(policy_arn):  # the template's own, or the account's
                    raise DeployFailed(
                        f"{logical_id}: managed policy {policy_arn} does not exist"
                    ) from None
                self.unattached.add(policy_arn.rsplit("/", 1)[-1])
        return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def iam_managed_policy(
        self, logical_id: str, props: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """A customer managed policy (Ref: its ARN). A changed document becomes a new default
        version, as CloudFormation does; IAM keeps at most five, so the oldest goes first."""
        iam = self.client("iam")
        name = props.get("ManagedPolicyName") or self.name(logical_id, 128)
        path = props.get("Path", "/")
        document = _policy(props["PolicyDocument"])
        arn = f"arn:aws:iam::{self.account}:policy{path}{name}"
        try:
            kwargs: dict[str, Any] = {"PolicyName": name, "Path": path, "PolicyDocument": document}
            if props.get("Description"):
                kwargs["Description"] = props["Description"]
            policy = iam.create_policy(**kwargs)["Policy"]
        except ClientError as err:
            if _code(err) != "EntityAlreadyExists":
                raise
            policy = iam.get_policy(PolicyArn=arn)["Policy"]
            default = policy["DefaultVersionId"]
            version = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]
            if _document(version["Document"]) != json.loads(document):
                versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
                if len(versions) >= 5:
                    oldest = min(
                        (v for v in versions if not v["IsDefaultVersion"]),
                        key=lambda v: v["CreateDate"],
                    )
                    iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
                iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
                policy = iam.get_policy(PolicyArn=arn)["Policy"]
        for role in props.get("Roles") or []:
            iam.attach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
        return policy["Arn"], {
            "PolicyArn": policy["Arn"],
            "PolicyId": policy["PolicyId"],
            "DefaultVersionId": policy["DefaultVersionId"],
        }

    def iam_policy(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = self.client("iam")
        document = _policy(props["PolicyDocument"])
        for role in props.get("Roles") or []:
            iam.put_role_policy(
                RoleName=role, PolicyName=props["PolicyName"], PolicyDocument=document
            )
        return props["PolicyName"], {}

    def lambda_function(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        lam = self.client("lambda")
        name = props.get("FunctionName") or self.name(logical_id, 64)
        config: dict[str, Any] = {
            "Role": props["Role"],
            "Handler": props.get("Handler", ""),
            "Runtime": props.get("Runtime", "python3.13"),
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
            "Environment": {
                "Variables": {
                    k: _text(v)
                    for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
                }
            },
            "Description": props.get("Description", ""),
        }
        if props.get("TracingConfig"):
            config["TracingConfig"] = props["TracingConfig"]
        if props.get("Layers"):
            self.note(
                "Lambda layers are not deployed locally: the functions run in-process with "
                "the installed albrules package"
            )
        if logical_id not in self.codes:
            raise InvalidInput(
                f"{logical_id}: the local deploy needs a local CodeUri folder (its code); "
                "an S3 CodeUri cannot be read here"
            )
        package = code_zip((self.template_dir / self.codes[logical_id]).resolve())
        try:
            created = lam.create_function(
                FunctionName=name,
                Code={"ZipFile": package},
                Architectures=props.get("Architectures") or ["x86_64"],
                Tags=_tags_dict(props.get("Tags")),
                **config,
            )
            arn = created["FunctionArn"]
        except ClientError as err:
            if _code(err) not in ("ResourceConflictException",):
                raise
            lam.update_function_code(FunctionName=name, ZipFile=package)
            arn = lam.update_function_configuration(FunctionName=name, **config)["FunctionArn"]
        reserved = props.get("ReservedConcurrentExecutions")
        if reserved is not None:  # CloudFormation: PutFunctionConcurrency after create
            lam.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=int(reserved)
            )
        else:
            lam.delete_function_concurrency(FunctionName=name)
        from .lambdas import handler_file

        if handler_file(str(config["Handler"])) not in _zip_names(package):
            self.note(
                f"{logical_id}: handler {config['Handler']!r} is not in its code "
                f"({self.codes[logical_id]}), so the local AWS cannot run it"
            )
        return name, {"Arn": arn}

    def lambda_url(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        lam = self.client("lambda")
        target = props["TargetFunctionArn"]
        config = {"AuthType": props.get("AuthType", "AWS_IAM")}
        if props.get("Cors"):
            config["Cors"] = props["Cors"]
        try:  # moto's create replaces an existing URL (and its address): update instead
            lam.get_function_url_config(FunctionName=target)
        except ClientError as err:
            if _code(err) != "ResourceNotFoundException":
                raise
            url = lam.create_function_url_config(FunctionName=target, **config)
        else:
            url = lam.update_function_url_config(FunctionName=target, **config)
        # The local AWS server serves function URLs itself (albrules.local.function_urls):
        # the URL the stack gets is that address, which opens in a browser.
        from .function_urls import served_url

        function_name = url["FunctionArn"].split(":")[6]
        served = served_url(lam.meta.endpoint_url, self.region, function_name)
        if served is None:
            self.note(
                "function URLs are not served by in-process moto: call the approval "
                "handler directly, or deploy to the local AWS server (`albrules local up`)"
            )
        return url["FunctionArn"], {
            "FunctionUrl": served or url["FunctionUrl"],
            "FunctionArn": url["FunctionArn"],
        }

    def log_group(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        logs = self.client("logs")
        name = props.get("LogGroupName") or self.name(logical_id, 512)
        try:
            logs.create_log_group(logGroupName=name)
        except ClientError as err:
            if _code(err) != "ResourceAlreadyExistsException":
                raise
        if "RetentionInDays" in props:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        return name, {"Arn": self.arn("logs", f"log-group:{name}:*")}

    def alarm(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = props.get("AlarmName") or self.name(logical_id, 255)
        kwargs = {
            k: v
            for k, v in props.items()
            if k
            in (
                "AlarmDescription",
                "ActionsEnabled",
                "AlarmActions",
                "OKActions",
                "InsufficientDataActions",
                "MetricName",
                "Namespace",
                "Statistic",
                "ExtendedStatistic",
                "Dimensions",
                "Unit",
                "ComparisonOperator",
                "TreatMissingData",
                "Metrics",
                "EvaluateLowSampleCountPercentile",
            )
        }
        kwargs.update(_ints(props, "Period", "EvaluationPeriods", "DatapointsToAlarm"))
        if "Threshold" in props:
            kwargs["Threshold"] = float(props["Threshold"])
        if "ActionsEnabled" in kwargs:
            kwargs["ActionsEnabled"] = str(kwargs["ActionsEnabled"]).lower() == "true"
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
        return name, {"Arn": self.arn("cloudwatch", f"alarm:{name}")}

    def dashboard(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """PutDashboard. AWS rejects a body that is not a JSON object with ``widgets``; moto
        stores any string, so the body is checked here as AWS would."""
        name = props.get("DashboardName") or self.name(logical_id, 255)
        body = str(props.get("DashboardBody") or "")
        try:
            widgets = json.loads(body).get("widgets")
        except (json.JSONDecodeError, AttributeError):
            widgets = None
        if not isinstance(widgets, list):
            raise InvalidInput(
                f"{logical_id}: DashboardBody is not a JSON object with a widgets list; "
                "fix it in the template"
            )
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
        return name, {}

    def schedule(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        scheduler = self.client("scheduler")
        name = props.get("Name") or self.name(logical_id, 64)
        kwargs = {
            k: props[k]
            for k in (
                "GroupName",
                "ScheduleExpression",
                "ScheduleExpressionTimezone",
                "FlexibleTimeWindow",
                "Target",
                "State",
                "Description",
                "KmsKeyArn",
            )
            if k in props
        }
        try:
            arn = scheduler.create_schedule(Name=name, **kwargs)["ScheduleArn"]
        except ClientError as err:
            if _code(err) != "ConflictException":
                raise
            arn = scheduler.update_schedule(Name=name, **kwargs)["ScheduleArn"]
        self.note(
            f"the EventBridge Scheduler schedule {name} is created but never fires locally; "
            "start executions with `albrules run`"
        )
        return name, {"Arn": arn}

    def events_rule(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """PutRule and PutTargets (the Ref of an AWS::Events::Rule is its name). The local AWS
        delivers matching events to Lambda targets, Step Functions' status change events
        included (:mod:`albrules.local.events`)."""
        events = self.client("events")
        name = props.get("Name") or self.name(logical_id, 64)
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            kwargs["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        for key in ("ScheduleExpression", "Description", "EventBusName", "RoleArn"):
            if key in props:
                kwargs[key] = _text(props[key])
        if "EventPattern" not in kwargs and "ScheduleExpression" not in kwargs:
            raise InvalidInput(
                f"{logical_id}: a rule needs an EventPattern or a ScheduleExpression"
            )
        arn = events.put_rule(**kwargs)["RuleArn"]
        bus = {"EventBusName": kwargs["EventBusName"]} if "EventBusName" in kwargs else {}
        targets = [
            {
                k: v
                for k, v in target.items()
                if k in ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RoleArn")
                or k in ("RetryPolicy", "DeadLetterConfig", "SqsParameters")
            }
            for target in props.get("Targets") or []
        ]
        for target in targets:
            if "RetryPolicy" in target:
                target["RetryPolicy"] = _ints(
                    target["RetryPolicy"], "MaximumRetryAttempts", "MaximumEventAgeInSeconds"
                )
        if targets:
            failed = events.put_targets(Rule=name, Targets=targets, **bus).get("FailedEntries")
            if failed:
                raise InvalidInput(f"{logical_id}: targets refused: {failed}")
        if "ScheduleExpression" in kwargs:
            self.note(f"the EventBridge rule {name} has a schedule, which never fires locally")
        return name, {"Arn": arn}

    def event_bus(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """CreateEventBus (the Ref of an AWS::Events::EventBus is its name), with its
        ``Policy`` if given."""
        events = self.client("events")
        name = _text(props["Name"])
        try:
            arn = events.create_event_bus(Name=name)["EventBusArn"]
        except ClientError as err:
            if _code(err) != "ResourceAlreadyExistsException":
                raise
            arn = events.describe_event_bus(Name=name)["Arn"]
        if props.get("Policy"):
            policy = props["Policy"]
            text = policy if isinstance(policy, str) else json.dumps(policy)
            events.put_permission(EventBusName=name, Policy=text)
        return name, {"Arn": arn, "Name": name}

    def event_bus_policy(
        self, logical_id: str, props: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """One statement of a bus's resource policy (AWS::Events::EventBusPolicy): its
        ``Statement`` (the bus ARN its default ``Resource``), or the older ``Action``,
        ``Principal`` and ``Condition``; the bus's other statements are kept."""
        events = self.client("events")
        bus = _text(props.get("EventBusName") or "default")
        sid = _text(props["StatementId"])
        if "Statement" not in props:
            kwargs: dict[str, Any] = {
                "EventBusName": bus,
                "StatementId": sid,
                "Action": _text(props.get("Action", "events:PutEvents")),
                "Principal": _text(props["Principal"]),
            }
            if props.get("Condition"):
                kwargs["Condition"] = props["Condition"]
            events.put_permission(**kwargs)
            return sid, {}
        found = events.describe_event_bus(Name=bus)
        others = [
            statement
            for statement in json.loads(found.get("Policy") or "{}").get("Statement", [])
            if statement.get("Sid") != sid
        ]
        statement = {"Sid": sid, "Resource": found["Arn"], **props["Statement"]}
        policy = {"Version": "2012-10-17", "Statement": [*others, statement]}
        events.put_permission(EventBusName=bus, Policy=json.dumps(policy))
        return sid, {}

    def state_machine(self, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        sfn = self.client("stepfunctions")
        name = props.get("StateMachineName") or self.name(logical_id, 80)
        definition = self._definition(logical_id, props)
        kwargs: dict[str, Any] = {"definition": definition, "roleArn": props["RoleArn"]}
        logging = props.get("LoggingConfiguration")
        if logging:
            kwargs["loggingConfiguration"] = {
                "level": logging.get("Level", "OFF"),
                "includeExecutionData": str(logging.get("IncludeExecutionData", "false")).lower()
                == "true",
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]
                        }
                    }
                    for d in logging.get("Destinations") or []
                ],
            }
        tracing = props.get("TracingConfiguration")
        if tracing:
            kwargs["tracingConfiguration"] = {
                "enabled": str(tracing.get("Enabled", "false")).lower() == "true"
            }
        arn = self.arn("states", f"stateMachine:{name}")
        try:  # moto's create returns an existing machine of that name unchanged: update it
            sfn.describe_state_machine(stateMachineArn=arn)
        except ClientError as err:
            if _code(err) != "StateMachineDoesNotExist":
                raise
            arn = sfn.create_state_machine(
                name=name,
                type=props.get("StateMachineType", "STANDARD"),
                tags=[{"key": k, "value": v} for k, v in _tags_dict(props.get("Tags")).items()],
                **kwargs,
            )["stateMachineArn"]
        else:
            sfn.update_state_machine(stateMachineArn=arn, **kwargs)
        return arn, {"Arn": arn, "Name": name}

    def _definition(self, logical_id: str, props: dict[str, Any]) -> str:
        if logical_id in self.definitions:
            path = (self.template_dir / self.definitions[logical_id]).resolve()
            if not path.is_file():
                raise InvalidInput(f"{logical_id}: DefinitionUri {path} does not exist")
            text = path.read_text()
            source = str(path)
        elif "DefinitionString" in props:
            text, source = _text(props["DefinitionString"]), f"{logical_id}.DefinitionString"
        elif "Definition" in props:
            text, source = json.dumps(props["Definition"]), f"{logical_id}.Definition"
        else:
            raise InvalidInput(
                f"{logical_id}: no definition the local deploy can read (DefinitionUri must "
                "be a local file)"
            )
        substitutions = props.get("DefinitionSubstitutions") or {}
        used = set(_SUB.findall(text))
        missing = sorted(used - set(substitutions))
        if missing:
            raise InvalidInput(
                f"{source} uses ${{{missing[0]}}} but {logical_id} has no DefinitionSubstitutions "
                f"entry for {', '.join(missing)}"
            )
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", json.dumps(_text(value))[1:-1])
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"{source} is not valid JSON after substitution: {err}") from None
        return text


def _policy(document: dict[str, Any]) -> str:
    """An IAM policy as JSON. SAM's policy templates omit ``Version``, which IAM defaults and
    moto refuses: give it the current one."""
    return json.dumps({"Version": "2012-10-17", **document})


def _document(document: Any) -> Any:
    """A policy document as IAM returns it (boto3 decodes it; a string if it could not)."""
    return json.loads(unquote(document)) if isinstance(document, str) else document


def _aws_managed(policy_arn: Any) -> bool:
    """An AWS managed policy (``arn:<partition>:iam::aws:policy/...``), not the account's."""
    return isinstance(policy_arn, str) and policy_arn.split(":")[4:5] == ["aws"]


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation bucket encryption rule in the S3 API's shape."""
    out = {k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"}
    if "ServerSideEncryptionByDefault" in rule:
        out["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
    if "BucketKeyEnabled" in out:
        out["BucketKeyEnabled"] = str(out["BucketKeyEnabled"]).lower() == "true"
    return out


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (the fields the app uses)."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = (
            str(rule["ExpiredObjectDeleteMarker"]).lower() == "true"
        )
    if expiration:
        out["Expiration"] = expiration
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        out["NoncurrentVersionExpiration"] = _ints(
            noncurrent, "NoncurrentDays", "NewerNoncurrentVersions"
        )
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = _ints(
            rule["AbortIncompleteMultipartUpload"], "DaysAfterInitiation"
        )
    return out


def _secret_value(props: dict[str, Any]) -> str:
    if "SecretString" in props:
        return _text(props["SecretString"])
    spec = props.get("GenerateSecretString") or {}
    alphabet = ""
    if str(spec.get("ExcludeLowercase", "false")).lower() != "true":
        alphabet += string.ascii_lowercase
    if str(spec.get("ExcludeUppercase", "false")).lower() != "true":
        alphabet += string.ascii_uppercase
    if str(spec.get("ExcludeNumbers", "false")).lower() != "true":
        alphabet += string.digits
    if str(spec.get("ExcludePunctuation", "false")).lower() != "true":
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if str(spec.get("IncludeSpace", "false")).lower() == "true":
        alphabet += " "
    alphabet = "".join(c for c in alphabet if c not in spec.get("ExcludeCharacters", ""))
    value = "".join(
        secrets.choice(alphabet or string.ascii_letters)
        for _ in range(int(spec.get("PasswordLength", 32)))
    )
    if "SecretStringTemplate" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec.get("GenerateStringKey", "password")] = value
        return json.dumps(document)
    return value


CREATORS: dict[str, Callable[[_Deployer, str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "AWS::KMS::Key": _Deployer.kms_key,
    "AWS::KMS::Alias": _Deployer.kms_alias,
    "AWS::S3::Bucket": _Deployer.s3_bucket,
    "AWS::S3::BucketPolicy": _Deployer.s3_bucket_policy,
    "AWS::DynamoDB::Table": _Deployer.dynamodb_table,
    "AWS::SNS::Topic": _Deployer.sns_topic,
    "AWS::SQS::Queue": _Deployer.sqs_queue,
    "AWS::SecretsManager::Secret": _Deployer.secret,
    "AWS::IAM::Role": _Deployer.iam_role,
    "AWS::IAM::Policy": _Deployer.iam_policy,
    "AWS::IAM::ManagedPolicy": _Deployer.iam_managed_policy,
    "AWS::Lambda::Function": _Deployer.lambda_function,
    "AWS::Lambda::Url": _Deployer.lambda_url,
    "AWS::Logs::LogGroup": _Deployer.log_group,
    "AWS::CloudWatch::Alarm": _Deployer.alarm,
    "AWS::CloudWatch::Dashboard": _Deployer.dashboard,
    "AWS::Scheduler::Schedule": _Deployer.schedule,
    "AWS::Events::Rule": _Deployer.events_rule,
    "AWS::Events::EventBus": _Deployer.event_bus,
    "AWS::Events::EventBusPolicy": _Deployer.event_bus_policy,
    "AWS::StepFunctions::StateMachine": _Deployer.state_machine,
}

# Why a type is not deployed locally (any other type: "not needed by the local workflows").
SKIP_REASONS = {
    "AWS::Lambda::LayerVersion": "layers are not needed: the functions run in-process",
    "AWS::Lambda::Permission": "the local AWS does not enforce resource policies",
}


def _skipped_ref(deployer: _Deployer, logical_id: str, resource: dict[str, Any]) -> str:
    if resource["Type"] == "AWS::Lambda::LayerVersion":
        name = (resource.get("Properties") or {}).get("LayerName", logical_id)
        return deployer.arn("lambda", f"layer:{name}:1")
    return deployer.name(logical_id, 255)


# --- deploy ---------------------------------------------------------------------------------


class _Clients:
    def __init__(self, session: Any):
        self.session = session
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str | None:
        return cast(str | None, self.session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]


def _as_aws(aws: Any) -> Any:
    if aws is None:
        return _Clients(boto3.Session())
    if isinstance(aws, boto3.Session):
        return _Clients(aws)
    return aws


def check_rules(resolver: Resolver, template: dict[str, Any]) -> None:
    """The template's ``Rules``, as CloudFormation checks them before it creates anything:
    each rule whose ``RuleCondition`` holds (or that has none) must have every ``Assert`` true,
    or the parameters are refused with its ``AssertDescription``."""
    for name, rule in (template.get("Rules") or {}).items():
        where = f"rule {name}"
        condition = rule.get("RuleCondition")
        if condition is not None and not resolver.resolve(condition, where):
            continue
        for assertion in rule.get("Assertions") or []:
            if not resolver.resolve(assertion["Assert"], where):
                words = assertion.get("AssertDescription") or "an assertion failed"
                raise InvalidInput(
                    f"the parameters break the template's rule {name}: {words}; nothing was "
                    "deployed"
                )


def deploy(
    template_path: str | Path = "template.yaml",
    parameters: dict[str, Any] | None = None,
    aws: Any = None,
    *,
    stack_name: str = DEFAULT_STACK,
    save: bool = True,
) -> Deployment:
    """Deploy a SAM template into the local AWS (whatever ``aws``'s clients point at).

    ``aws``: an :class:`albrules.aws.Aws`, a boto3 session, or anything with ``client(name)``
    and a region (``region`` or ``region_name``); default: a new boto3 session. Required
    parameters not in ``parameters`` get :func:`local_defaults` (in ``local_defaults``).
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", stack_name):
        raise InvalidInput(
            f"stack name {stack_name!r} must start with a letter and hold only letters, "
            "digits and hyphens"
        )
    aws = _as_aws(aws)
    region = getattr(aws, "region", None) or getattr(aws, "region_name", None)
    if not region:
        raise InvalidInput("no AWS region is set; set AWS_DEFAULT_REGION")
    path = Path(template_path)
    sam_template = load_template(path)
    filled = local_defaults(sam_template, parameters, previous_deployment(stack_name))
    values = parameter_values(sam_template, {**(parameters or {}), **filled})
    account = aws.client("sts").get_caller_identity()["Account"]
    translated, definitions, codes = translate(sam_template, region, values)
    deployer = _Deployer(aws, stack_name, region, account, path.parent)
    deployer.definitions = definitions
    deployer.codes = codes
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": deployer.arn(
            "cloudformation",
            f"stack/{stack_name}/{hashlib.sha256(stack_name.encode()).hexdigest()[:32]}",
        ),
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }
    resolver = Resolver(translated, {**values, **pseudo})
    check_rules(resolver, sam_template)
    resources: dict[str, Any] = translated.get("Resources") or {}
    deployed: dict[str, DeployedResource] = {}
    skipped: dict[str, str] = {}
    for logical_id in deployment_order(resources):
        resource = resources[logical_id]
        kind = resource.get("Type", "")
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition, logical_id):
            skipped[logical_id] = f"{kind}: condition {condition} is false"
            resolver.skipped.add(logical_id)
            continue
        creator = CREATORS.get(kind)
        if creator is None:
            skipped[logical_id] = (
                f"{kind}: {SKIP_REASONS.get(kind, 'not needed by the local workflows')}"
            )
            resolver.skipped.add(logical_id)
            resolver.refs[logical_id] = _skipped_ref(deployer, logical_id, resource)
            continue
        props = resolver.resolve(resource.get("Properties") or {}, logical_id)
        try:
            physical, attributes = creator(deployer, logical_id, props)
        except (ClientError, ParamValidationError) as err:
            if isinstance(err, ClientError) and _code(err) == "InvalidDefinition":
                raise DeployFailed(
                    f"creating {logical_id} ({kind}) failed: its state machine definition (with "
                    "the DefinitionSubstitutions applied) is invalid, and AWS rejects it too: "
                    f"{err.response['Error'].get('Message', '')}"
                ) from None
            raise DeployFailed(
                f"creating {logical_id} ({kind}) failed: {err}; the local AWS may not support it"
            ) from None
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInput(
                f"{logical_id} ({kind}) has a property the local deploy cannot use: "
                f"{type(err).__name__}: {err}"
            ) from None
        resolver.refs[logical_id] = physical
        resolver.attributes[logical_id] = attributes
        deployed[logical_id] = DeployedResource(
            type=kind, physical_id=physical, attributes=attributes
        )
    if deployer.unattached:
        deployer.note(
            "AWS managed policies are not loaded in the local AWS (IAM is not enforced "
            "there); not attached: " + ", ".join(sorted(deployer.unattached))
        )
    outputs: dict[str, str] = {}
    for name, output in (translated.get("Outputs") or {}).items():
        condition = output.get("Condition")
        if condition and not resolver.condition(condition, f"output {name}"):
            continue
        value = resolver.resolve(output.get("Value"), f"output {name}")
        if value is not NO_VALUE:
            outputs[name] = _text(value)
    declared = sam_template.get("Parameters") or {}
    deployment = Deployment(
        stack_name=stack_name,
        region=region,
        account=account,
        template=str(path.resolve()),
        endpoint_url=getattr(aws.client("sts").meta, "endpoint_url", None),
        deployed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        parameters={
            k: ("****" if str((declared.get(k) or {}).get("NoEcho", "")).lower() == "true" else v)
            for k, v in values.items()
        },
        outputs=outputs,
        resources=deployed,
        skipped=skipped,
        notes=deployer.notes,
        local_defaults=filled,
    )
    if save:
        target = deployment_path(stack_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(deployment.model_dump_json(indent=2) + "\n")
    return deployment
