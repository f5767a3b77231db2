"""Which OIDC client secrets a restore may read (albrules.oidc_secrets), and what it sends."""

from __future__ import annotations

import pytest

from albrules.errors import InvalidInput, RestoreRefused
from albrules.oidc_secrets import SecretScope, check_prefix, client_secret_of, parse_secret_arn

LISTENER = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2"
)


def secret(name: str, account: str = "123456789012", region: str = "eu-west-1") -> str:
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"


def test_a_secret_under_the_prefix_in_the_listeners_account_and_region_may_be_read() -> None:
    scope = SecretScope("albrules/")
    for name in ("albrules/shop-AbCdEf", "albrules/team/shop", "albrules/x"):
        assert scope.check(secret(name), LISTENER, "web").name == name
    assert SecretScope(None).check(secret("anything-AbCdEf"), LISTENER).name == "anything-AbCdEf"


@pytest.mark.parametrize(
    ("arn", "said"),
    [
        (secret("prod/db-password-AbCdEf"), "is outside the secret name prefix 'albrules/'"),
        (secret("albrules"), "is outside the secret name prefix 'albrules/'"),
        (secret("xalbrules/shop"), "is outside the secret name prefix 'albrules/'"),
        (secret("albrules/shop", account="210987654321"), "is in account 210987654321, not in"),
        (secret("albrules/shop", region="us-east-1"), "is in region us-east-1, not in"),
    ],
)
def test_any_other_secret_is_refused_naming_it_and_what_to_do(arn: str, said: str) -> None:
    with pytest.raises(RestoreRefused) as refused:
        SecretScope("albrules/", "or do this").check(arn, LISTENER, "web")
    message = str(refused.value)
    assert message.startswith(f"the OIDC client secret {arn} (client 'web') {said}")
    assert message.endswith("(nothing was read or changed)")
    assert refused.value.exit_code == 2
    if "prefix" in said:
        assert "store the client secret in a secret named albrules/..., or do this" in message
    else:  # the account and region hold whatever the prefix: --any-oidc-secret does not lift them
        with pytest.raises(RestoreRefused):
            SecretScope(None).check(arn, LISTENER, "web")


def test_another_partition_is_refused() -> None:
    with pytest.raises(RestoreRefused, match="is in partition aws-cn, not in the target"):
        SecretScope().check(
            "arn:aws-cn:secretsmanager:eu-west-1:123456789012:secret:albrules/x", LISTENER
        )


def test_check_all_checks_every_client_given() -> None:
    scope = SecretScope()
    scope.check_all({"a": secret("albrules/a"), "b": secret("albrules/b")}, LISTENER)
    with pytest.raises(RestoreRefused, match=r"\(client 'b'\)"):
        scope.check_all({"a": secret("albrules/a"), "b": secret("other/b")}, LISTENER)


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a b",
        "arn:aws:secretsmanager:eu-west-1:1234:secret:albrules/x",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/albrules/x",
        "albrules/x",
    ],
)
def test_what_is_not_a_secret_arn_is_bad_input(value: str) -> None:
    with pytest.raises(InvalidInput, match="is not a Secrets Manager secret ARN"):
        parse_secret_arn(value, "--oidc-secret web")


def test_a_prefix_is_secret_name_characters() -> None:
    assert check_prefix("team-a/oidc/") == "team-a/oidc/"
    for bad in ("", "a b", "albrules/*", "a?"):
        with pytest.raises(InvalidInput, match="is not a secret name prefix"):
            check_prefix(bad)


ARN = secret("albrules/shop-AbCdEf")


def test_plain_text_is_the_client_secret_and_json_gives_its_client_secret_key() -> None:
    assert client_secret_of(ARN, "s3cr3t-value") == "s3cr3t-value"
    assert client_secret_of(ARN, '{"client_secret": "from-json", "x": 1}') == "from-json"
    assert client_secret_of(ARN, ' {"ClientSecret": "pascal"}\n') == "pascal"
    assert client_secret_of(ARN, '{"client_secret": "a", "ClientSecret": "b"}') == "a"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"username": "admin", "password": "hunter2"}', "without a 'client_secret'"),
        ('{"client_secret": ""}', "has a 'client_secret' key that is not a non-empty string"),
        ('{"ClientSecret": {"v": "hunter2"}}', "has a 'ClientSecret' key that is not"),
        ('["hunter2"]', "holds JSON that is not an object"),
        ('{"client_secret": "hunter2",}', "starts like JSON but is not valid JSON"),
        ("", "is empty"),
    ],
)
def test_anything_else_is_refused_naming_the_secret_never_quoting_it(text: str, said: str) -> None:
    with pytest.raises(RestoreRefused) as refused:
        client_secret_of(ARN, text)
    message = str(refused.value)
    assert message.startswith(f"secret {ARN} ") and said in message
    assert "hunter2" not in message and "admin" not in message
