"""Locks that hold, without AWS: one spelling per listener (the lock's key), the lifetime of a
workflow restore's lock, and which executions the abandoned-lock task accepts."""

from __future__ import annotations

import pytest

from albrules.errors import InvalidInput, RestoreRefused
from albrules.locks import APPLY_SECONDS, cli_owner, machine_of, workflow_lock_seconds
from albrules.resolve import choose_target
from albrules.state_documents import RestoreRequest, parse

ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)


@pytest.mark.parametrize("spelling", [f"{ARN} ", f"{ARN}\n", f"\t{ARN}\r\n", f"  {ARN}"])
def test_every_spelling_of_a_listener_is_one_key(spelling: str) -> None:
    assert choose_target(spelling, None, None) == ARN
    assert choose_target(ARN, spelling, None) == ARN
    assert choose_target(ARN, None, spelling) == ARN
    assert choose_target(ARN, spelling, f"{ARN}\n") == ARN
    request = parse(RestoreRequest, {"snapshot": "k", "listener_arn": spelling}, "the input")
    assert request.listener_arn == ARN
    request = parse(RestoreRequest, {"snapshot": "k", "target_listener_arn": spelling}, "input")
    assert request.target_listener_arn == ARN


def test_a_malformed_arn_is_refused_where_it_enters() -> None:
    with pytest.raises(InvalidInput, match=r"listener_arn.*is not a listener ARN"):
        parse(RestoreRequest, {"snapshot": "k", "listener_arn": f"{ARN}x"}, "the restore input")
    with pytest.raises(InvalidInput, match="is not a listener ARN"):
        choose_target(ARN, None, ARN.replace("/app/", "/app /"))
    with pytest.raises(RestoreRefused, match="not "):  # another listener must be explicit
        choose_target(ARN, ARN[:-1] + "3", None)


def test_a_workflow_lock_outlives_the_longest_approval_wait() -> None:
    for timeout in (60, 3600, 86400, 604800):
        assert workflow_lock_seconds(timeout) >= timeout + APPLY_SECONDS
    assert cli_owner("arn:aws:iam::123456789012:user/alice").startswith(
        "cli:arn:aws:iam::123456789012:user/alice:"
    )
    assert cli_owner("x") != cli_owner("x")


def test_only_execution_arns_name_their_machine() -> None:
    execution = "arn:aws:states:us-east-1:123456789012:execution:albrules-restore:run-1"
    assert (
        machine_of(execution)
        == "arn:aws:states:us-east-1:123456789012:stateMachine:albrules-restore"
    )
    for bad in (
        "",
        "arn:aws:states:us-east-1:123456789012:stateMachine:albrules-restore",
        f"{execution}:extra",
        "arn:aws:lambda:us-east-1:123456789012:execution:a:b",
    ):
        with pytest.raises(InvalidInput):
            machine_of(bad)
