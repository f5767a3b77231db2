"""The restore machine restores a listener's own settings (snapshot format 2) from a backup
taken by the backup machine: port, attributes and tags back as they were."""

from __future__ import annotations

from albrules.aws import Aws
from albrules.catalog import Catalog
from stack import Stack, shop

SERVER = "routing.http.response.server.enabled"


def test_the_restore_machine_brings_the_listener_settings_back(stack: Stack) -> None:
    listener = shop(stack)
    backup = stack.run("backup", stack.backup_targets(listener_arns=[listener]))
    assert backup.status == "SUCCEEDED", backup.cause
    before = stack.world.state(listener).listener
    assert before is not None
    elb = stack.world.elb
    elb.modify_listener(ListenerArn=listener, Port=before.port + 1000)
    elb.modify_listener_attributes(
        ListenerArn=listener, Attributes=[{"Key": SERVER, "Value": "false"}]
    )
    elb.add_tags(ResourceArns=[listener], Tags=[{"Key": "broken", "Value": "yes"}])
    (entry,) = Catalog(Aws(stack.session), stack.table).history(listener)

    result = stack.run("restore", {"listener_arn": listener, "at": entry.taken_at})

    assert result.status == "SUCCEEDED", result.cause
    assert stack.world.state(listener).listener == before
    operations = result.output["plan"]["operations"]
    assert any("port" in line and "attributes" not in line for line in operations)
