"""Capture listeners from AWS with the fewest read calls the API allows.

``DescribeListeners`` is shared by all the listeners of one request (by ARN list, or one call
for all the listeners of a load balancer). Per listener, ``DescribeRules`` in pages of 400
(the API maximum). ``DescribeTags`` in batches of 20 ARNs (the API maximum) across the
listeners, not per listener: each listener's own ARN, its default rule's and its rules'. The
account, region and load balancer come from the listener ARN itself.

The listener's own settings (snapshot format 2, :mod:`albrules.listener_settings`) cost per
listener one ``DescribeListenerAttributes`` and, for an HTTPS listener only, one paginated
``DescribeListenerCertificates`` (400 a page); the load balancers' scheme and type one
``DescribeLoadBalancers`` per 20 load balancers (none when the caller has already described
them). So a load balancer of 10 HTTP listeners of 2 rules each takes 24 calls:
DescribeLoadBalancers (its name, scheme and type), DescribeListeners, 10 DescribeRules, 10
DescribeListenerAttributes and 2 DescribeTags (50 ARNs); HTTPS listeners add one
DescribeListenerCertificates each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from .arns import ListenerArn, is_load_balancer_arn, parse_listener_arn
from .aws import Aws, as_albrules_error
from .canonical import canonical_actions, canonical_rule
from .errors import AlbRulesError, AwsThrottled, InvalidInput, ListenerNotFound
from .listener_settings import SECURE_PROTOCOLS, settings_from_api
from .models import ListenerState, Source
from .snapshot import pydantic_problems

RULES_PAGE_SIZE = 400
CERTIFICATES_PAGE_SIZE = 400
TAGS_BATCH = 20
BALANCERS_BATCH = 20

# Told ``(listeners captured, listeners to capture)`` as a capture goes (progress bars).
OnProgress = Callable[[int, int], None]


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _call(where: str, fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as err:
        raise as_albrules_error(err, where=where) from err


def _pages(where: str, fn: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of an ELBv2 Marker/NextMarker listing."""
    items: list[dict[str, Any]] = []
    while True:
        page = _call(where, fn, **kwargs)
        items += page.get(key, [])
        if not page.get("NextMarker"):
            return items
        kwargs["Marker"] = page["NextMarker"]


def describe_rules(aws: Aws, listener_arn: str) -> list[dict[str, Any]]:
    return _pages(
        f"listener {listener_arn}",
        aws.elbv2.describe_rules,
        "Rules",
        ListenerArn=listener_arn,
        PageSize=RULES_PAGE_SIZE,
    )


def describe_tags(aws: Aws, arns: list[str], where: str) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for batch in _chunks(arns, TAGS_BATCH):
        page = _call(where, aws.elbv2.describe_tags, ResourceArns=batch)
        for item in page.get("TagDescriptions", []):
            tags[item["ResourceArn"]] = {
                t["Key"]: t.get("Value", "")
                for t in item.get("Tags", [])
                if not t["Key"].startswith("aws:")
            }
    return tags


def describe_listeners(aws: Aws, arns: list[str]) -> dict[str, dict[str, Any]]:
    """Listener descriptions by ARN, one call for all of them (paginated)."""
    where = f"listener {', '.join(arns)}"
    listeners = _pages(where, aws.elbv2.describe_listeners, "Listeners", ListenerArns=arns)
    found = {listener["ListenerArn"]: listener for listener in listeners}
    for arn in arns:
        if arn not in found:
            raise ListenerNotFound(
                f"listener {arn} does not exist; check the ARN, --region and --profile"
            )
    return found


def describe_listener_certificates(aws: Aws, listener_arn: str) -> list[dict[str, Any]]:
    """Every certificate of an HTTPS listener (the default one has ``IsDefault``), all pages."""
    return _pages(
        f"listener {listener_arn}",
        aws.elbv2.describe_listener_certificates,
        "Certificates",
        ListenerArn=listener_arn,
        PageSize=CERTIFICATES_PAGE_SIZE,
    )


def describe_listener_attributes(aws: Aws, listener_arn: str) -> list[dict[str, Any]]:
    page = _call(
        f"listener {listener_arn}",
        aws.elbv2.describe_listener_attributes,
        ListenerArn=listener_arn,
    )
    return cast(list[dict[str, Any]], page.get("Attributes", []))


def describe_balancers(aws: Aws, arns: list[str]) -> dict[str, dict[str, Any]]:
    """Load balancer descriptions by ARN, 20 a call; a missing one is simply absent."""
    found: dict[str, dict[str, Any]] = {}
    for batch in _chunks(sorted(set(arns)), BALANCERS_BATCH):
        try:
            items = _pages(
                "load balancers",
                aws.elbv2.describe_load_balancers,
                "LoadBalancers",
                LoadBalancerArns=batch,
            )
        except AlbRulesError:
            if len(batch) == 1:
                raise
            items = []
            for arn in batch:  # one of them is gone: read the others one by one
                try:
                    items += _pages(
                        f"load balancer {arn}",
                        aws.elbv2.describe_load_balancers,
                        "LoadBalancers",
                        LoadBalancerArns=[arn],
                    )
                except AlbRulesError:
                    continue
        found.update({item["LoadBalancerArn"]: item for item in items})
    return found


ListenerRead = tuple[ListenerArn, dict[str, Any]]  # a listener ARN and its description
# Called before a listener's rules are read; an AlbRulesError it raises is that listener's.
BeforeListener = Callable[[str], None]


@dataclass
class _Extra:
    """What a listener's settings are read from, besides its description and rules."""

    certificates: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)


def _state(
    parsed: ListenerArn,
    listener: dict[str, Any],
    raw_rules: list[dict[str, Any]],
    tags: dict[str, dict[str, str]],
    extra: _Extra | None = None,
    balancer: dict[str, Any] | None = None,
) -> ListenerState:
    where = f"listener {parsed.arn}"
    default_rule_arn = next((r["RuleArn"] for r in raw_rules if r.get("IsDefault")), None)
    rules = []
    for raw in raw_rules:
        if raw.get("IsDefault"):
            continue
        rules.append(
            canonical_rule(
                {
                    "arn": raw["RuleArn"],
                    "priority": int(raw["Priority"]),
                    "conditions": raw.get("Conditions", []),
                    "actions": raw.get("Actions", []),
                    "transforms": raw.get("Transforms", []),
                    "tags": tags.get(raw["RuleArn"], {}),
                }
            )
        )
    rules.sort(key=lambda r: r["priority"])
    document = {
        "source": Source(
            account=parsed.account,
            region=parsed.region,
            load_balancer_arn=listener.get("LoadBalancerArn", parsed.load_balancer_arn),
            load_balancer_name=parsed.load_balancer_name,
            listener_arn=parsed.arn,
            port=listener.get("Port"),
            protocol=listener.get("Protocol"),
            load_balancer_scheme=(balancer or {}).get("Scheme"),
            load_balancer_type=(balancer or {}).get("Type"),
        ).model_dump(exclude_none=True),
        "default_actions": canonical_actions(listener.get("DefaultActions", [])),
        "rules": rules,
        "default_rule_arn": default_rule_arn,
    }
    try:
        if extra is not None:
            document["listener"] = settings_from_api(
                listener,
                extra.certificates,
                extra.attributes,
                tags.get(parsed.arn, {}),
                tags.get(default_rule_arn, {}) if default_rule_arn else {},
            )
        return ListenerState.model_validate(document)
    except ValidationError as err:
        first = pydantic_problems(err)[0]
        raise AlbRulesError(
            f"{where} has something this albrules does not understand ({first}); "
            "upgrade albrules before backing it up"
        ) from None


def _listener_extra(aws: Aws, parsed: ListenerArn, listener: dict[str, Any]) -> _Extra:
    """The listener's attributes and (HTTPS) certificates: one call, or two and more pages."""
    extra = _Extra(attributes=describe_listener_attributes(aws, parsed.arn))
    if listener.get("Protocol") in SECURE_PROTOCOLS:
        extra.certificates = describe_listener_certificates(aws, parsed.arn)
    return extra


def read_listeners(
    aws: Aws,
    items: list[ListenerRead],
    *,
    progress: OnProgress | None = None,
    before: BeforeListener | None = None,
    isolate: bool = True,
    balancers: dict[str, dict[str, Any]] | None = None,
) -> dict[str, ListenerState | AlbRulesError]:
    """Capture listeners already described (one account and region): one paginated
    DescribeRules each and its settings (:func:`_listener_extra`), then DescribeTags in batches
    of 20 ARNs across the listeners (the listener, its default rule and its rules; a batch is
    sent as soon as it is full, so a listener's tags follow its rules closely; the rest at the
    end). ``balancers``: load balancer descriptions already read (scheme and type); the others
    are read 20 a call. A listener that cannot be read gets its error, and the others go on;
    a DescribeTags batch that fails is sent again per listener (throttled: the error of each).
    Not ``isolate``: the first error is raised at once."""
    results: dict[str, ListenerState | AlbRulesError] = {}
    raw: dict[str, list[dict[str, Any]]] = {}
    extras: dict[str, _Extra] = {}
    owner: dict[str, str] = {}  # tagged ARN -> listener ARN
    tags: dict[str, dict[str, str]] = {}
    pending: list[str] = []

    def send(batch: list[str]) -> None:
        try:
            tags.update(describe_tags(aws, batch, f"listener {owner[batch[0]]}"))
        except AlbRulesError as err:
            listeners = list(dict.fromkeys(owner[arn] for arn in batch))
            if not isolate:
                raise
            if len(listeners) == 1 or isinstance(err, AwsThrottled):
                for arn in listeners:
                    results.setdefault(arn, err)
                return
            for arn in listeners:  # one listener's rule gone since: only that one fails
                send([tagged for tagged in batch if owner[tagged] == arn])

    for done, (parsed, listener) in enumerate(items, start=1):
        try:
            if before is not None:
                before(parsed.arn)
            rules = describe_rules(aws, parsed.arn)
            extras[parsed.arn] = _listener_extra(aws, parsed, listener)
        except AlbRulesError as err:
            if not isolate:
                raise
            results[parsed.arn] = err
        else:
            raw[parsed.arn] = rules
            owner[parsed.arn] = parsed.arn
            pending.append(parsed.arn)
            for rule in rules:
                owner[rule["RuleArn"]] = parsed.arn
                pending.append(rule["RuleArn"])
            while len(pending) >= TAGS_BATCH:
                send(pending[:TAGS_BATCH])
                del pending[:TAGS_BATCH]
        if progress:
            progress(done, len(items))
    if pending:
        send(pending)
    known = dict(balancers or {})
    wanted = {
        listener.get("LoadBalancerArn", parsed.load_balancer_arn)
        for parsed, listener in items
        if parsed.arn not in results
    } - known.keys()
    if wanted:
        try:
            known.update(describe_balancers(aws, sorted(wanted)))
        except AlbRulesError as err:
            if not isolate:
                raise
            for parsed, _listener in items:
                results.setdefault(parsed.arn, err)
    for parsed, listener in items:
        if parsed.arn in results:
            continue
        balancer = known.get(listener.get("LoadBalancerArn", parsed.load_balancer_arn))
        try:
            results[parsed.arn] = _state(
                parsed, listener, raw[parsed.arn], tags, extras[parsed.arn], balancer
            )
        except AlbRulesError as err:
            if not isolate:
                raise
            results[parsed.arn] = err
    return results


def _states(
    aws: Aws,
    items: list[ListenerRead],
    progress: OnProgress | None,
    balancers: dict[str, dict[str, Any]] | None = None,
) -> list[ListenerState]:
    """The listeners' states in order; the first listener's error, if any, is raised."""
    results = read_listeners(aws, items, progress=progress, isolate=False, balancers=balancers)
    states = []
    for parsed, _listener in items:
        result = results[parsed.arn]
        if isinstance(result, AlbRulesError):
            raise result
        states.append(result)
    return states


def capture_listeners(
    aws: Aws, listener_arns: Iterable[str], progress: OnProgress | None = None
) -> list[ListenerState]:
    """Capture listeners given by ARN: one DescribeListeners for all, then rules and tags."""
    parsed = [parse_listener_arn(arn) for arn in dict.fromkeys(listener_arns)]
    if not parsed:
        return []
    listeners = describe_listeners(aws, [p.arn for p in parsed])
    return _states(aws, [(p, listeners[p.arn]) for p in parsed], progress)


def capture_listener(aws: Aws, listener_arn: str) -> ListenerState:
    return capture_listeners(aws, [listener_arn])[0]


def resolve_load_balancer(aws: Aws, name_or_arn: str) -> str:
    """A load balancer ARN from its name or ARN (one DescribeLoadBalancers call for a name)."""
    return _resolve_balancer(aws, name_or_arn)[0]


def _resolve_balancer(aws: Aws, name_or_arn: str) -> tuple[str, dict[str, Any] | None]:
    """The load balancer's ARN, and its description when a name had to be looked up."""
    value = name_or_arn.strip()
    if is_load_balancer_arn(value):
        if ":loadbalancer/app/" not in value:
            raise InvalidInput(
                f"{value} is not an Application Load Balancer; albrules backs up ALB listener rules"
            )
        return value, None
    if value.startswith("arn:"):
        raise InvalidInput(
            f"{value!r} is not a load balancer ARN; pass an ALB name or "
            "arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID"
        )
    try:
        page = aws.elbv2.describe_load_balancers(Names=[value])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "LoadBalancerNotFound":
            raise ListenerNotFound(
                f"no load balancer named {value!r} in {aws.region}; check the name, --region "
                "and --profile"
            ) from None
        raise as_albrules_error(err, where=f"load balancer {value}") from err
    except BotoCoreError as err:
        raise as_albrules_error(err) from err
    balancer = page["LoadBalancers"][0]
    if balancer.get("Type", "application") != "application":
        raise InvalidInput(
            f"{value} is a {balancer.get('Type')} load balancer; albrules backs up ALB rules"
        )
    return cast(str, balancer["LoadBalancerArn"]), cast(dict[str, Any], balancer)


def load_balancer_listeners(aws: Aws, load_balancer_arn: str) -> list[dict[str, Any]]:
    return _pages(
        f"load balancer {load_balancer_arn}",
        aws.elbv2.describe_listeners,
        "Listeners",
        LoadBalancerArn=load_balancer_arn,
    )


def capture_load_balancer(
    aws: Aws, name_or_arn: str, progress: OnProgress | None = None
) -> list[ListenerState]:
    """Capture every listener of a load balancer, given by name or ARN."""
    arn, balancer = _resolve_balancer(aws, name_or_arn)
    listeners = sorted(load_balancer_listeners(aws, arn), key=lambda item: item.get("Port", 0))
    items = [(parse_listener_arn(item["ListenerArn"]), item) for item in listeners]
    return _states(aws, items, progress, {arn: balancer} if balancer else None)


def count_other_rules(aws: Aws, load_balancer_arn: str, listener_arn: str) -> int:
    """Rules (default rules aside) on the load balancer's other listeners, for the quota."""
    total = 0
    for listener in load_balancer_listeners(aws, load_balancer_arn):
        if listener["ListenerArn"] == listener_arn:
            continue
        total += sum(
            1 for r in describe_rules(aws, listener["ListenerArn"]) if not r.get("IsDefault")
        )
    return total
