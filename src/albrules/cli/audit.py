"""``albrules audit``: who started and who decided the restores run by the SAM application,
the plan's SHA-256 and the outcome (the use case is ``albrules.audit``)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import InvalidInput
from .common import (
    Debug,
    JsonOut,
    LocalPort,
    Profile,
    Region,
    StackName,
    Where,
    handled,
    out_console,
    print_json,
    stack_clients,
)


def audit(
    listener_arn: Annotated[
        str | None, typer.Option("--listener-arn", help="Every restore of this listener.")
    ] = None,
    execution_arn: Annotated[
        str | None, typer.Option("--execution-arn", help="One restore execution.")
    ] = None,
    stack_name: StackName = "albrules",
    local: Where = None,
    port: LocalPort = None,
    profile: Profile = None,
    region: Region = None,
    table: Annotated[
        str | None,
        typer.Option("--table", help="The catalog table (CatalogTableName); skips the stack."),
    ] = None,
    as_json: JsonOut = False,
    debug: Debug = False,
) -> None:
    """Print the audit of restores: the verified requester (CloudTrail), the verified approver,
    the plan's SHA-256 and the outcome. The input's requested_by is shown as a note."""
    from .. import audit as audits
    from ..catalog import Catalog

    with handled(debug):
        if bool(listener_arn) == bool(execution_arn):
            raise InvalidInput("give --listener-arn ARN or --execution-arn ARN (one of them)")
        clients, outputs = stack_clients(
            local, port, profile, region, stack_name, listener_arn or execution_arn
        )
        name = table or outputs().get("CatalogTableName")
        if not name:
            raise InvalidInput(
                f"stack {stack_name} has no CatalogTableName output; check --stack-name or "
                "give --table NAME"
            )
        found = audits.audit(
            Catalog(clients, name),
            listener_arn=listener_arn,
            execution_arn=execution_arn,
            cloudtrail=clients.client("cloudtrail"),
        )
        if as_json:
            print_json([f.public() for f in found])
            return
        if not found:
            out_console.print(f"no restore of {listener_arn} is in the catalog", markup=False)
        for i, one in enumerate(found):
            if i:
                out_console.print("", markup=False)
            for line in audits.lines(one):
                out_console.print(line, markup=False)
