"""What every command module of the CLI shares: the consoles, the option types, the error
handler, and the factories of AWS sessions, local-AWS clients and a stack's clients.

This module imports no command module (and not the package's ``__init__``), so any command
module can import it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import ParseResult, urlparse

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from ..arns import parse_listener_arn, region_of
from ..aws import Aws, as_albrules_error
from ..capture import OnProgress, capture_listeners, capture_load_balancer
from ..errors import AlbRulesError, InvalidInput, SnapshotInvalid
from ..models import ListenerState
from ..render import console
from ..store import is_s3, read_snapshot

err_console = console(stderr=True)
out_console = console()

# --- option types ---------------------------------------------------------------------------

Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: from the ARN).")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
LocalPort = Annotated[
    int | None,
    typer.Option("--port", help="Port of the local AWS (default: from AWS_ENDPOINT_URL, or 4566)."),
]
Where = Annotated[
    bool | None,
    typer.Option(
        "--local/--aws",
        help="The local AWS (its stack from `albrules local deploy`) or real AWS (the stack's "
        "CloudFormation outputs). Default: local when AWS_ENDPOINT_URL points at localhost.",
    ),
]
StackName = Annotated[str, typer.Option("--stack-name", help="The stack (application) name.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
ListenerArn = Annotated[
    str | None,
    typer.Option("--listener-arn", help="The listener to compare with (default: the snapshot's)."),
]
MapByName = Annotated[
    bool,
    typer.Option(
        "--map-target-groups-by-name", help="Use the target groups of the same names there."
    ),
]
OidcSecret = Annotated[
    list[str] | None,
    typer.Option(
        "--oidc-secret", help="CLIENT_ID=SECRET_ARN for OIDC rules to create (repeatable)."
    ),
]
OidcSecretPrefix = Annotated[
    str,
    typer.Option(
        "--oidc-secret-prefix",
        help="Read OIDC client secrets only under this name prefix (the stack's OidcSecretPrefix).",
    ),
]
AnyOidcSecret = Annotated[
    bool,
    typer.Option(
        "--any-oidc-secret",
        help="Read an OIDC client secret of any name your credentials can read (still only in "
        "the listener's account and region).",
    ),
]

# --- errors ---------------------------------------------------------------------------------


@contextmanager
def handled(debug: bool) -> Iterator[None]:
    """Turn every failure into one clear sentence and the contract's exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except AlbRulesError as err:
        _report(err, debug)
        raise typer.Exit(err.exit_code) from None
    except (ClientError, BotoCoreError) as err:
        mapped = as_albrules_error(err)
        _report(mapped, debug, err)
        raise typer.Exit(mapped.exit_code) from None
    except KeyboardInterrupt:
        err_console.print(
            "interrupted; if a restore had started applying, compare the listener with its "
            "pre-restore snapshot (albrules plan PRE-RESTORE-SNAPSHOT) before going on"
        )
        raise typer.Exit(1) from None
    except Exception as err:  # a bug: still one sentence, the traceback on request
        err_console.print(
            f"error: unexpected {type(err).__name__}: {err}; run with --debug for details"
        )
        if debug:
            err_console.print(traceback.format_exc())
        raise typer.Exit(1) from None


def _report(err: AlbRulesError, debug: bool, cause: BaseException | None = None) -> None:
    err_console.print(f"error: {err}", markup=False)
    if isinstance(err, SnapshotInvalid):
        for problem in err.problems:
            err_console.print(f"  {problem}", markup=False)
        if err.more:
            err_console.print(f"  and {err.more:,} more", markup=False)
    if debug:
        err_console.print(traceback.format_exc(), markup=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# --- real AWS -------------------------------------------------------------------------------


def open_aws(profile: str | None, region: str | None, arn: str | None = None) -> Aws:
    """A session for ``--profile`` in ``--region``, else the region of ``arn``."""
    arn_region = region_of(arn) if arn else None
    if region and arn_region and region != arn_region:
        raise InvalidInput(f"{arn} is in {arn_region} but --region is {region}; drop --region")
    try:
        session = boto3.Session(profile_name=profile, region_name=region or arn_region)
    except ProfileNotFound:
        raise InvalidInput(
            f"AWS profile {profile!r} is not configured; check ~/.aws/config or drop --profile"
        ) from None
    return Aws(session)


def load_snapshot(location: str, profile: str | None, region: str | None) -> Any:
    """The validated snapshot at a path or S3 URI."""
    aws = open_aws(profile, region) if is_s3(location) else None
    return read_snapshot(location, aws)


def capture(
    listener_arn: list[str] | None,
    load_balancer: list[str] | None,
    profile: str | None,
    region: str | None,
    progress: OnProgress | None = None,
) -> tuple[list[ListenerState], Aws | None]:
    """Capture the listeners given by ARN (grouped by region) and every listener of the load
    balancers; also the first session opened, for an S3 location."""
    by_region: dict[str | None, list[str]] = defaultdict(list)
    for arn in listener_arn or []:
        by_region[parse_listener_arn(arn).region].append(arn)
    states: list[ListenerState] = []
    first = None
    for arns in by_region.values():
        aws = open_aws(profile, region, arns[0])
        first = first or aws
        states += capture_listeners(aws, arns, progress)
    for balancer in load_balancer or []:
        aws = open_aws(profile, region, balancer if balancer.startswith("arn:") else None)
        first = first or aws
        states += capture_load_balancer(aws, balancer, progress)
    return states, first


# --- the local AWS --------------------------------------------------------------------------


def local_session(port: int) -> Any:
    """A session whose clients always talk to the local AWS on ``port``, never to real AWS."""
    from ..local import process

    if not process.running(port):
        raise InvalidInput(
            f"no local AWS on port {port}; start it with `albrules local up --port {port}`"
        )
    env = process.environment(port)
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )

    class _Local:
        region = session.region_name
        region_name = session.region_name

        @staticmethod
        def client(service: str) -> Any:
            return session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])

        @property
        def s3(self) -> Any:  # as Aws.s3: snapshots in the local stack's bucket are read so
            return self.client("s3")

    return _Local()


LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _local_endpoint() -> ParseResult | None:
    """``AWS_ENDPOINT_URL``, parsed, when it points at this machine; else None."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    parsed = urlparse(endpoint) if endpoint else None
    return parsed if parsed and parsed.hostname in LOCAL_HOSTS else None


def local_port(port: int | None) -> int:
    """The port of the local AWS, the same way for every command: ``--port``, else the port
    of ``AWS_ENDPOINT_URL`` when it points at localhost or 127.0.0.1, else 4566."""
    from ..local import process

    if port is not None:
        return port
    parsed = _local_endpoint()
    try:
        found = parsed.port if parsed else None
    except ValueError:  # not a port number: as if none were given
        found = None
    return found or process.DEFAULT_PORT


def _stack_port(local: bool | None, port: int | None) -> int | None:
    """The local AWS's port if this command should use it (``--local``, or by default when
    ``AWS_ENDPOINT_URL`` points at this machine), else None (real AWS)."""
    if local is False or (local is None and _local_endpoint() is None):
        return None
    return local_port(port)


def stack_clients(
    local: bool | None,
    port: int | None,
    profile: str | None,
    region: str | None,
    stack_name: str,
    arn: str | None = None,
) -> tuple[Any, Callable[[], dict[str, str]]]:
    """Clients for the local AWS or real AWS, and a function giving the stack's outputs."""
    from .. import workflows

    found = _stack_port(local, port)
    if found is not None:
        from ..local.deploy import load_deployment

        return local_session(found), lambda: load_deployment(stack_name).outputs
    aws = open_aws(profile, region, arn)
    return aws, lambda: workflows.stack_outputs(aws.client("cloudformation"), stack_name)


def stack_catalog(
    local: bool | None,
    port: int | None,
    profile: str | None,
    region: str | None,
    stack_name: str,
    table: str | None,
    arn: str | None = None,
) -> tuple[Any, Any]:
    """The clients of the stack's account (local AWS or real AWS) and its catalog
    (``--table``, else the stack's CatalogTableName output); InvalidInput when there is none."""
    from ..catalog import Catalog

    clients, outputs = stack_clients(local, port, profile, region, stack_name, arn)
    name = table
    if not name:
        try:
            name = outputs().get("CatalogTableName")
        except (AlbRulesError, ClientError, BotoCoreError) as err:
            found = str(as_albrules_error(err)).split("; ")[0]  # what failed, not the advice
            raise InvalidInput(
                f"stack {stack_name} not found ({found}); give --stack-name NAME or --table "
                "TABLE (its CatalogTableName), or --from a directory or s3:// prefix of snapshots"
            ) from None
        if not name:
            raise InvalidInput(
                f"stack {stack_name} has no CatalogTableName output; check --stack-name or give "
                "--table TABLE"
            )
    return clients, Catalog(clients, name)
