"""A member account's listener change reaches the central stack through two accounts of the
local AWS: the member's CloudTrail event on its default bus, its forwarding rule
(member-account.yaml) to the central changes bus, whose policy admits that account only, the
central stack's rule, and a version in the central catalog read through the member's role."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from albrules import accounts
from albrules.catalog import Catalog
from albrules.local import cloudtrail, lambdas
from albrules.local.deploy import deploy
from albrules.versions import Version
from change_events import REGION, assumed_role, cloudtrail_event, user
from local_world import World
from stack import MOCK_CONFIG, PARAMETERS, ROOT, Stack, shop

MEMBER = "210987654321"
STRANGER = "333333333333"


def session_in(account: str) -> boto3.Session:
    """Credentials in another account of the local AWS (moto: an assumed role's account)."""
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


class Member:
    def __init__(self, central: Stack, account: str):
        self.session = session_in(account)
        self.account = account
        self.world = World(self.session)
        self.deployment = deploy(
            ROOT / "member-account.yaml",
            {
                "TrustedRoleArns": central.outputs["MemberTrustedRoleArns"],
                "ReadOnlyTrustedRoleArns": central.outputs["MemberReadOnlyTrustedRoleArns"],
                "ExternalId": PARAMETERS["MemberExternalId"],
                "CentralEventBusArn": central.outputs["ChangesEventBusArn"],
            },
            aws=self.session,
            stack_name="member",
            save=False,
        )

    def forwarding(self, enabled: bool) -> None:
        """The member's forwarding rule on or off (off while a test builds its listeners, so
        that their CloudTrail events reach nobody), once the events so far are delivered."""
        assert cloudtrail.drain(10)
        events = self.session.client("events")
        name = self.deployment.physical_id("ForwardChangesRule")
        (events.enable_rule if enabled else events.disable_rule)(Name=name)

    def cloudtrail(self, event: dict[str, Any]) -> None:
        """The member account's CloudTrail delivers the event to its default bus."""
        from moto.events.models import events_backends

        events_backends[self.account][REGION].put_events(
            [
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": [],
                }
            ]
        )


@pytest.fixture
def central() -> Iterator[Stack]:
    with mock_aws(config=MOCK_CONFIG):
        session = boto3.Session(region_name=REGION)
        parameters = {**PARAMETERS, "ChangeSettleSeconds": "1", "ChangeSourceAccounts": MEMBER}
        deployment = deploy(
            ROOT / "template.yaml", parameters, aws=session, stack_name="albrules", save=False
        )
        try:
            yield Stack(session, deployment)
        finally:
            lambdas.clear_hooks()
            accounts.forget()


def history(central: Stack, listener: str, timeout: float = 30) -> list[Version]:
    catalog = Catalog(central.world.aws, central.table)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = catalog.history(listener)
        if found:
            return found
        time.sleep(0.1)
    return []


def test_a_member_accounts_change_is_backed_up_by_the_central_stack(central: Stack) -> None:
    member = Member(central, MEMBER)
    member.forwarding(False)
    listener = shop(_member_stack(member))
    member.forwarding(True)
    someone = f"arn:aws:iam::{MEMBER}:role/deployer"
    event = cloudtrail_event(
        "ModifyListener",
        {"listenerArn": listener},
        identity=assumed_role(someone, "release-7"),
        account=MEMBER,
    )

    member.cloudtrail(event)

    [version] = history(central, listener)
    assert version.trigger == "change"
    assert version.events[0].issuer == someone and version.events[0].account == MEMBER
    document = central.read_json(version.location.removeprefix(f"s3://{central.bucket}/"))
    assert document["source"]["listener_arn"] == listener
    assert document["source"]["account"] == MEMBER


def test_an_account_the_central_bus_does_not_admit_is_not_heard(central: Stack) -> None:
    """An account that deployed member-account.yaml with the central bus's ARN but is not in
    ChangeSourceAccounts: its events never reach the central stack."""
    stranger = Member(central, STRANGER)
    listener = shop(_member_stack(stranger))  # its own events are not admitted either
    stranger.cloudtrail(
        cloudtrail_event(
            "ModifyListener", {"listenerArn": listener}, identity=user("eve", STRANGER),
            account=STRANGER,
        )
    )
    assert history(central, listener, timeout=4) == []
    assert Catalog(central.world.aws, central.table).pending_changes(listener) is None


def _member_stack(member: Member) -> Stack:
    """Enough of a Stack for ``shop`` to build a listener in the member account."""
    found = Stack.__new__(Stack)
    found.world = member.world
    return found
