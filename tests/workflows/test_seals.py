"""Seals on the deployed application: what the stack writes is sealed, a hand edit is restored
only once `albrules seal` has sealed it, and a restore by catalog id reads the snapshot the
catalog records. The CLI goes to the in-process mock with ``--aws --region --key-id``."""

from __future__ import annotations

import json
from pathlib import Path

from albrules.models import Snapshot
from albrules.seal import Seal, read_sidecar
from albrules.snapshot import expected_checksum
from cli_runs import cli
from local_world import REGION
from rule_builders import fixed
from stack import Stack, checksum, shop
from workflows.test_workflows import back_up, snapshot_key


def seal_key(stack: Stack) -> str:
    return stack.outputs["SealKeyArn"]


def head(stack: Stack, key: str) -> dict:
    return stack.s3.head_object(Bucket=stack.bucket, Key=key)


def hand_edit(stack: Stack, key: str) -> tuple[str, dict]:
    """The stored snapshot with its first rule answering 418, checksum recomputed, uploaded
    beside it (as an operator would); its key and document."""
    document = stack.read_json(key)
    document["rules"][0]["actions"] = [{**fixed("418"), "Order": 1}]
    document["checksum"] = expected_checksum(Snapshot.model_validate(document))
    edited = key.replace(".json", "-edited.json")
    stack.s3.put_object(
        Bucket=stack.bucket,
        Key=edited,
        Body=json.dumps(document, indent=1).encode(),
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=stack.outputs["DataKeyArn"],
    )
    return edited, document


def test_everything_the_stack_writes_for_a_restore_is_sealed(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    stack.world.elb.delete_rule(RuleArn=stack.world.rules(listener)[0]["RuleArn"])
    result = stack.run("restore", {"snapshot": snapshot_key(stack, listener)})
    assert result.status == "SUCCEEDED", result.cause
    name = result.execution_arn.rsplit(":", 1)[-1]
    written = [snapshot_key(stack, listener), f"plans/{name}.json"] + [
        k
        for k in stack.keys(f"pre-restore/{name}/")
        # the journal and the sliced apply's write-ahead mark: records of calls, not inputs
        if not k.endswith(("journal.json", "in-flight.json"))
    ]
    assert len(written) == 3
    for key in written:
        seal = Seal.from_metadata(head(stack, key)["Metadata"])
        assert seal is not None and seal.key_arn == seal_key(stack), key


def test_a_hand_edit_is_refused_until_sealed_then_restored(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    edited, document = hand_edit(stack, snapshot_key(stack, listener))
    before = head(stack, edited)

    refused = stack.run("restore", {"snapshot": edited})
    assert refused.error == "RestoreRefused" and "has no seal" in refused.cause

    uri = f"s3://{stack.bucket}/{edited}"
    status, out, err = cli("seal", uri, "--aws", "--region", REGION, "--key-id", seal_key(stack))
    assert status == 0, (out, err)
    assert f"sealed {uri}" in out
    after = head(stack, edited)
    assert Seal.from_metadata(after["Metadata"]) is not None
    assert after["ServerSideEncryption"] == "aws:kms"
    assert after["SSEKMSKeyId"] == before["SSEKMSKeyId"]
    assert after["ContentLength"] == before["ContentLength"]

    restored = stack.run("restore", {"snapshot": edited})
    assert restored.status == "SUCCEEDED", restored.cause
    assert checksum(stack, listener) == document["checksum"]


def test_seal_of_a_local_file_writes_its_sidecar_and_refuses_an_invalid_snapshot(
    stack: Stack, tmp_path: Path
) -> None:
    listener = shop(stack)
    back_up(stack)
    _, document = hand_edit(stack, snapshot_key(stack, listener))
    good = tmp_path / "edited.json"
    good.write_text(json.dumps(document))
    key = ["--aws", "--region", REGION, "--key-id", seal_key(stack)]
    status, out, err = cli("seal", str(good), *key)
    assert status == 0, (out, err)
    seal = read_sidecar(good)
    assert seal is not None and seal.key_arn == seal_key(stack)

    document["rules"][0]["priority"] = 77  # the checksum no longer matches
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    status, out, err = cli("seal", str(bad), *key)
    assert status == 2 and out == ""
    assert "checksum" in err and not (tmp_path / "bad.json.seal").exists()


def test_a_catalog_restore_refuses_a_snapshot_the_catalog_does_not_record(stack: Stack) -> None:
    listener = shop(stack)
    back_up(stack)
    first = snapshot_key(stack, listener)
    snapshot_id = stack.read_json(first)["checksum"][:12]
    stack.world.elb.delete_rule(RuleArn=stack.world.rules(listener)[0]["RuleArn"])
    back_up(stack)
    second = snapshot_key(stack, listener)
    assert second != first
    # The later snapshot, seal and all, copied over the one the catalog id names.
    stack.s3.copy_object(
        Bucket=stack.bucket,
        Key=first,
        CopySource={"Bucket": stack.bucket, "Key": second},
        MetadataDirective="COPY",
    )
    live = checksum(stack, listener)

    result = stack.run("restore", {"snapshot": snapshot_id})

    assert result.status == "FAILED" and result.error == "RestoreRefused", result.cause
    assert f"is not the snapshot the catalog records for id {snapshot_id}" in result.cause
    assert checksum(stack, listener) == live
