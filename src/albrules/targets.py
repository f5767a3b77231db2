"""The stack's restore targets (parameter ``RestoreTargets``): the load balancers whose listeners
a restore may change.

The parameter is a comma-separated list; each entry is a load balancer name prefix (``web-``
allows ``web-shop`` and ``web-api``; case-sensitive, as IAM's ARN patterns are) or
``tag:KEY=VALUE`` (the load balancer or the listener carries that tag). Empty allows any
listener. The restore functions read it from their environment (``ALBRULES_RESTORE_TARGETS``)
and refuse, before any change, a listener it does not allow.

IAM enforces name prefixes too (template.yaml's ChangeListenersPolicy and member-account.yaml's
read-write role deny every write outside them; rule and listener ARNs hold the load balancer's
name). Tags cannot be: ELBv2 authorises CreateRule and ModifyListener on the listener and the
other writes on the rule, and ``aws:ResourceTag`` reads the tags of that listener or rule, not
of its load balancer (Service Authorization Reference, Elastic Load Balancing V2), so a tag entry
is checked here only. Not confirmed here (the reference's tables could not be read in full):
which condition keys each write action lists; the ARN formats (``listener/app/NAME/...``,
``listener-rule/app/NAME/...``) and IAM's wildcards in any ARN segment but the service's are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .arns import parse_listener_arn
from .aws import Aws, as_albrules_error
from .errors import InvalidInput, RestoreRefused

_PREFIX = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_TAG = re.compile(r"^tag:(?P<key>[^,=]+)=(?P<value>[^,]*)$")


@dataclass(frozen=True)
class RestoreTargets:
    """The allow-list; empty (no entries) allows every listener."""

    prefixes: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, text: str | None) -> RestoreTargets:
        """The allow-list from the parameter's text; InvalidInput naming a malformed entry."""
        text = (text or "").strip()
        if not text:
            return cls()
        prefixes: list[str] = []
        tags: list[tuple[str, str]] = []
        for entry in text.split(","):
            tag = _TAG.match(entry)
            if tag:
                tags.append((tag["key"], tag["value"]))
            elif _PREFIX.match(entry):
                prefixes.append(entry)
            else:
                raise InvalidInput(
                    f"the stack's RestoreTargets entry {entry!r} is neither a load balancer name "
                    "prefix nor tag:KEY=VALUE; fix the RestoreTargets parameter (comma-separated, "
                    "no spaces)"
                )
        return cls(tuple(prefixes), tuple(tags), text)

    @property
    def allows_any(self) -> bool:
        return not self.prefixes and not self.tags

    def allows_name(self, load_balancer_name: str) -> bool:
        return self.allows_any or any(load_balancer_name.startswith(p) for p in self.prefixes)

    def allows_tags(self, tags: dict[str, str]) -> bool:
        return any(tags.get(key) == value for key, value in self.tags)


def _tags_of(aws: Aws, arns: list[str]) -> list[dict[str, str]]:
    try:
        found = aws.elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"]
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(err, service="elbv2", where=arns[0]) from err
    by_arn: dict[str, Any] = {d["ResourceArn"]: d.get("Tags") or [] for d in found}
    return [{t["Key"]: t.get("Value", "") for t in by_arn.get(arn, [])} for arn in arns]


def check_restore_target(aws: Aws, listener_arn: str, targets: RestoreTargets) -> None:
    """Raise RestoreRefused unless ``targets`` allows the listener. Reads the load balancer's
    and the listener's tags (one DescribeTags) only when no name prefix matched and the list
    has a tag entry."""
    parsed = parse_listener_arn(listener_arn)
    if targets.allows_name(parsed.load_balancer_name):
        return
    if targets.tags:
        tag_sets = _tags_of(aws, [parsed.load_balancer_arn, parsed.arn])
        if any(targets.allows_tags(tags) for tags in tag_sets):
            return
    raise RestoreRefused(
        f"listener {parsed.arn} (load balancer {parsed.load_balancer_name}) is not among the "
        f"stack's restore targets ({targets.text}); nothing was changed, restore to a listener "
        "they allow or change the stack's RestoreTargets parameter"
    )


def check_load_balancer_target(
    aws: Aws, load_balancer_arn: str, load_balancer_name: str, targets: RestoreTargets
) -> None:
    """As :func:`check_restore_target` for a listener that does not exist yet (a
    recreation): the load balancer's name, or its tags."""
    if targets.allows_name(load_balancer_name):
        return
    if targets.tags and targets.allows_tags(_tags_of(aws, [load_balancer_arn])[0]):
        return
    raise RestoreRefused(
        f"load balancer {load_balancer_name} is not among the stack's restore targets "
        f"({targets.text}); nothing was changed, recreate the listener on a load balancer they "
        "allow or change the stack's RestoreTargets parameter"
    )
