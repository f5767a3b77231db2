"""ELBv2 ARNs: parse listener and load balancer ARNs into the parts a snapshot records."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput

_LISTENER = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):elasticloadbalancing:(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):listener/(?P<kind>app|net|gwy)/(?P<name>[^/]+)/(?P<lb_id>[0-9a-f]+)/"
    r"(?P<listener_id>[0-9a-f]+)$"
)
_LOAD_BALANCER = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):elasticloadbalancing:(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):loadbalancer/(?P<kind>app|net|gwy)/(?P<name>[^/]+)/(?P<lb_id>[0-9a-f]+)$"
)


@dataclass(frozen=True)
class ListenerArn:
    arn: str
    partition: str
    region: str
    account: str
    load_balancer_name: str
    load_balancer_id: str
    listener_id: str

    @property
    def load_balancer_arn(self) -> str:
        return (
            f"arn:{self.partition}:elasticloadbalancing:{self.region}:{self.account}:"
            f"loadbalancer/app/{self.load_balancer_name}/{self.load_balancer_id}"
        )


def parse_listener_arn(arn: str) -> ListenerArn:
    match = _LISTENER.match(arn.strip())
    if not match:
        raise InvalidInput(
            f"{arn!r} is not a listener ARN; expected "
            "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/LB-ID/LISTENER-ID"
        )
    if match["kind"] != "app":
        raise InvalidInput(
            f"{arn} is a listener of a {'Network' if match['kind'] == 'net' else 'Gateway'} "
            "Load Balancer; albrules backs up Application Load Balancer listener rules"
        )
    return ListenerArn(
        arn=arn.strip(),
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        load_balancer_name=match["name"],
        load_balancer_id=match["lb_id"],
        listener_id=match["listener_id"],
    )


def is_load_balancer_arn(value: str) -> bool:
    return bool(_LOAD_BALANCER.match(value.strip()))


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None
