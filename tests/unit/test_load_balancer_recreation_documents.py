"""A whole-load-balancer restore that recreates a listener, in its documents (no AWS): the Map
items keep every field (the ItemSelector names them all), the input's certificate_map needs
recreate_listener, and the outcome's words name the old listener and the new one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from albrules import notifications as n
from albrules.errors import InvalidInput
from albrules.state_documents import (
    LoadBalancerListener,
    LoadBalancerRestoreState,
    RecreateNote,
    dump,
    dump_load_balancer,
    parse,
)

ACCOUNT = "123456789012"
LB = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:loadbalancer/app/shop/50dc6c495c0c9188"
OLD = LB.replace(":loadbalancer/", ":listener/") + "/0000000000000001"
NEW = LB.replace(":loadbalancer/", ":listener/") + "/0000000000000002"
EXECUTION = f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:albrules-restore:r-1"
ASL = Path(__file__).parents[2] / "statemachine" / "restore.asl.json"
MAPS = ("Apply every listener in turn", "Roll back every listener already changed")


def item_fields(map_state: str) -> set[str]:
    """The fields of an item the Map's ItemSelector reads (``$$.Map.Item.Value.NAME``)."""
    selector = json.loads(ASL.read_text())["States"][map_state]["ItemSelector"]
    prefix = "$$.Map.Item.Value."
    return {v[len(prefix) :] for v in selector.values() if str(v).startswith(prefix)}


def recreation_item() -> LoadBalancerListener:
    return LoadBalancerListener(
        port=8081,
        records_part="port-8081",
        snapshot_location="s3://b/snapshots/x.json",
        plan_location="s3://b/plans/r-1/port-8081.json",
        plan_sha256="ab" * 32,
        changes=5,
        recreate=RecreateNote(
            old_listener_arn=OLD,
            load_balancer_arn=LB,
            load_balancer_name="shop",
            port=8081,
            protocol="HTTP",
            lock_key=f"{LB}#8081",
        ),
    )


def test_map_items_keep_every_field_the_item_selector_names() -> None:
    state = LoadBalancerRestoreState(
        request={"load_balancer": "shop", "at": "0s", "recreate_listener": True},
        execution_arn=EXECUTION,
        listeners=[recreation_item()],
        rollback_order=[recreation_item()],
    )
    assert "listener_arn" not in dump(state)["listeners"][0]  # what the plain dump would drop
    document = dump_load_balancer(state)
    for name, map_state in zip(("listeners", "rollback_order"), MAPS, strict=True):
        (item,) = document[name]
        assert "recreate" in item_fields(map_state)
        assert set(item) >= item_fields(map_state)
        assert item["listener_arn"] is None and item["recreate"]["old_listener_arn"] == OLD
    again = parse(LoadBalancerRestoreState, document, "the restore state")
    assert again.listeners[0].lock_key == f"{LB}#8081"


def test_a_certificate_map_needs_recreate_listener() -> None:
    state = LoadBalancerRestoreState(
        request={"load_balancer": "shop", "at": "0s", "certificate_map": {"a": "b"}},
        execution_arn=EXECUTION,
    )
    with pytest.raises(InvalidInput, match="certificate_map needs recreate_listener"):
        state.parsed_request()


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("recreated", "recreated from its snapshot and verified"),
        ("deleted", "recreated, then deleted again (the load balancer is as it was)"),
        ("rollback failed", "NOT rolled back: delete the listener this restore created by hand"),
    ],
)
def test_a_recreated_listener_is_named_by_its_old_and_new_arn(status: str, words: str) -> None:
    line = n._listener_line(
        {"listener_arn": NEW, "old_listener_arn": OLD, "port": 8081, "status": status}
    )
    assert line == f"- shop:8081: {words} (was {OLD}; created {NEW})"


def test_a_recreation_never_reached_is_named_by_its_old_listener() -> None:
    line = n._listener_line(
        {"listener_arn": None, "old_listener_arn": OLD, "port": 8081, "status": "unchanged"}
    )
    assert line == f"- shop:8081: unchanged (was {OLD})"
