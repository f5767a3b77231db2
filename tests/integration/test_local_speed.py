"""The local AWS's speed-ups (albrules.local.speed) change how often work is done, never its
answer: sessions share one model loader, a machine's definition is parsed once but each
execution gets its own components, and moto still finds exactly the actions it has."""

from __future__ import annotations

import inspect
import json
import os

import boto3
import pytest
from moto.core.responses import BaseResponse
from moto.elbv2.responses import ELBV2Response
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
)

from albrules import local
from albrules.local import speed

local.install()

PASS = json.dumps(
    {"StartAt": "Wait a moment", "States": {"Wait a moment": {"Type": "Pass", "End": True}}}
)


def test_sessions_share_one_loader_and_boto3_adds_its_data_path_once() -> None:
    sessions = [boto3.Session(region_name="us-east-1") for _ in range(5)]
    loaders = {id(s._session.get_component("data_loader")) for s in sessions}
    assert len(loaders) == 1
    paths = sessions[0]._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))
    assert any(p.endswith(os.path.join("boto3", "data")) for p in paths)  # boto3's models too
    model = sessions[-1].client("elbv2").meta.service_model
    assert "CreateRule" in model.operation_names


def test_a_definition_is_parsed_once_and_each_parse_gets_its_own_components() -> None:
    first_program, first_tree = AmazonStateLanguageParser.parse(PASS)
    second_program, second_tree = AmazonStateLanguageParser.parse(PASS)
    assert first_tree is second_tree  # the parse tree is kept
    assert first_program is not second_program  # an execution never shares components


@pytest.mark.parametrize("broken", ['{"StartAt": "A", "States": {', '{"StartAt": 3}'])
def test_a_definition_that_does_not_parse_fails_every_time(broken: str) -> None:
    for _ in range(2):
        with pytest.raises(ASLParserException):
            AmazonStateLanguageParser.parse(broken)


def test_the_action_lookup_agrees_with_listing_every_function() -> None:
    for clazz in (ELBV2Response, BaseResponse):
        every = {name for name, _ in inspect.getmembers(clazz, inspect.isfunction)}
        names = speed._FunctionNames(clazz)
        assert set(names) == every
        assert all(name in names for name in every)
        assert "create_rule" in every or clazz is BaseResponse
        for absent in ("no_such_action", "__class__", "region", 7):
            assert (absent in names) == (absent in every)


def test_a_load_balancer_is_made_without_moto_loading_its_default_amis() -> None:
    from moto import mock_aws

    assert os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] == "false"
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        assert ec2.describe_images(Owners=["amazon"])["Images"] == []
        assert ec2.describe_subnets()["Subnets"]  # the default VPC's subnets are still there


def test_installing_the_local_aws_again_wraps_nothing_twice(world, session) -> None:
    from albrules.local import throttle

    local.install()  # the module did too, and so did the fixtures
    listener = world.listener(world.load_balancer("shop"))
    throttle.set_mutating_rate(0.01, burst=2)  # two calls, then none for 100 s
    try:
        elb = session.client("elbv2")
        for n in (1, 2):  # each takes one token, not two
            elb.add_tags(ResourceArns=[listener], Tags=[{"Key": f"t{n}", "Value": "x"}])
    finally:
        throttle.set_mutating_rate(None)


def test_a_symmetric_keys_unused_pair_is_made_only_when_read_and_signing_keys_still_sign(
    session,
) -> None:
    from moto.kms.models import kms_backends

    kms = session.client("kms")
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    key = kms_backends["123456789012"]["us-east-1"].keys[symmetric]
    assert isinstance(key.private_key, speed._KeyPairWhenUsed) and key.private_key._key is None
    assert key.private_key.public_key() is not None  # made when read, as moto would have it
    signed = kms.sign(KeyId=signing, Message=b"plan", SigningAlgorithm="RSASSA_PSS_SHA_256")[
        "Signature"
    ]
    verified = kms.verify(
        KeyId=signing, Message=b"plan", Signature=signed, SigningAlgorithm="RSASSA_PSS_SHA_256"
    )
    assert verified["SignatureValid"] is True
    ciphertext = kms.encrypt(KeyId=symmetric, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"x"
