"""The attack suite runs against the stack as an operator deploys it: the template's defaults."""

from __future__ import annotations

from stack import Stack


def test_the_suite_stack_is_deployed_with_the_templates_defaults(stack: Stack) -> None:
    assert stack.deployment.parameters["ApprovalTimeoutSeconds"] == "3600"
