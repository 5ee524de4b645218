from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from homerec.errors import ConfigError
from streams.security import Secret, add_arguments, kafka_options, redacted

PASSWORD = "s3cr3t-Pa55"  # noqa: S105 - test value


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n...\n")
    return path


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return path


def test_default_is_plaintext() -> None:
    assert kafka_options(parse(), env={}) == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_from_flags(mechanism: str, pem: Path, password_file: Path) -> None:
    opts = kafka_options(
        parse(
            "--security-protocol",
            "SASL_SSL",
            "--sasl-mechanism",
            mechanism,
            "--sasl-username",
            "alice",
            "--sasl-password-file",
            str(password_file),
            "--ssl-cafile",
            str(pem),
        ),
        env={},
    )
    assert opts == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "alice",
        "sasl_plain_password": PASSWORD,  # trailing newline of the file stripped
        "ssl_cafile": str(pem),
        "ssl_check_hostname": True,
    }
    assert isinstance(opts["sasl_plain_password"], Secret)


def test_everything_from_the_environment(pem: Path) -> None:
    env = {
        "HOMEREC_SECURITY_PROTOCOL": "sasl_ssl",
        "HOMEREC_SASL_MECHANISM": "scram-sha-256",
        "HOMEREC_SASL_USERNAME": "bob",
        "HOMEREC_SASL_PASSWORD": PASSWORD,
        "HOMEREC_SSL_CAFILE": str(pem),
        "HOMEREC_SSL_CHECK_HOSTNAME": "false",
    }
    opts = kafka_options(parse(), env=env)
    assert opts["security_protocol"] == "SASL_SSL"
    assert opts["sasl_mechanism"] == "SCRAM-SHA-256"
    assert opts["sasl_plain_password"].reveal() == PASSWORD
    assert opts["ssl_check_hostname"] is False


def test_flags_win_over_environment(password_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("from-env-file")
    env = {
        "HOMEREC_SECURITY_PROTOCOL": "SSL",
        "HOMEREC_SASL_USERNAME": "env-user",
        "HOMEREC_SASL_PASSWORD_FILE": str(other),
        "HOMEREC_SASL_PASSWORD": "from-env",
    }
    opts = kafka_options(
        parse(
            "--security-protocol",
            "SASL_PLAINTEXT",
            "--sasl-username",
            "flag-user",
            "--sasl-password-file",
            str(password_file),
        ),
        env=env,
    )
    assert opts["security_protocol"] == "SASL_PLAINTEXT"
    assert opts["sasl_mechanism"] == "PLAIN"
    assert opts["sasl_plain_username"] == "flag-user"
    assert opts["sasl_plain_password"] == PASSWORD
    # the password file in the environment wins over the password in the environment
    opts = kafka_options(parse("--security-protocol", "SASL_PLAINTEXT"), env=env)
    assert opts["sasl_plain_password"] == "from-env-file"


def test_mutual_tls(pem: Path, tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("key")
    key_pw = tmp_path / "key-password"
    key_pw.write_text("kp")
    opts = kafka_options(
        parse(
            "--security-protocol",
            "SSL",
            "--ssl-cafile",
            str(pem),
            "--ssl-certfile",
            str(pem),
            "--ssl-keyfile",
            str(key),
            "--ssl-key-password-file",
            str(key_pw),
        ),
        env={},
    )
    assert opts["ssl_keyfile"] == str(key)
    assert opts["ssl_password"] == "kp"
    assert redacted(opts)["ssl_password"] == "***"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--security-protocol", "SASL_SSL"], {"HOMEREC_SASL_PASSWORD": "x"}, "needs a user name"),
        (["--security-protocol", "SASL_SSL", "--sasl-username", "a"], {}, "needs a password"),
        (["--sasl-username", "a"], {}, "security protocol is PLAINTEXT"),
        (["--security-protocol", "SSL", "--sasl-mechanism", "PLAIN"], {}, "--sasl-mechanism"),
        (["--ssl-cafile", "/nonexistent.pem"], {}, "use --security-protocol SSL"),
        (["--security-protocol", "SSL", "--ssl-cafile", "/nonexistent.pem"], {}, "does not exist"),
        (["--ssl-no-check-hostname"], {}, "--ssl-no-check-hostname"),
        ([], {"HOMEREC_SECURITY_PROTOCOL": "TLS"}, "is not one of"),
        (
            ["--security-protocol", "SASL_SSL", "--sasl-username", "a"],
            {"HOMEREC_SASL_PASSWORD": "x", "HOMEREC_SASL_MECHANISM": "GSSAPI"},
            "is not one of",
        ),
        ([], {"HOMEREC_SSL_CHECK_HOSTNAME": "maybe"}, "true or false"),
        (["--security-protocol", "SSL", "--ssl-keyfile", "/k"], {}, "needs --ssl-certfile"),
    ],
)
def test_inconsistent_settings_are_clear_config_errors(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("-", r"\-")):
        kafka_options(parse(*argv), env=env)


def test_empty_password_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        kafka_options(
            parse(
                "--security-protocol",
                "SASL_SSL",
                "--sasl-username",
                "a",
                "--sasl-password-file",
                str(empty),
            ),
            env={},
        )


def test_errors_never_contain_the_password(tmp_path: Path) -> None:
    env = {"HOMEREC_SASL_PASSWORD": PASSWORD}
    with pytest.raises(ConfigError) as info:
        kafka_options(parse("--security-protocol", "SASL_SSL"), env=env)
    assert PASSWORD not in str(info.value)
    with pytest.raises(ConfigError) as info:
        kafka_options(parse(), env=env)
    assert PASSWORD not in str(info.value)


def test_secrets_do_not_leak_through_printing_or_logging(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = kafka_options(
        parse("--security-protocol", "SASL_PLAINTEXT", "--sasl-username", "u"),
        env={"HOMEREC_SASL_PASSWORD": PASSWORD},
    )
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").debug("client config: %s", opts)
        logging.getLogger("t").debug(
            "password %s %r", opts["sasl_plain_password"], opts["sasl_plain_password"]
        )
    print(opts, f"{opts['sasl_plain_password']}", str(opts))
    out = capsys.readouterr().out
    assert PASSWORD not in caplog.text and PASSWORD not in out
    assert "***" in caplog.text
    # the client still gets the real bytes
    pw = opts["sasl_plain_password"]
    assert pw.encode() == PASSWORD.encode()
    assert "\0".join(["u", "u", pw]).encode() == f"u\0u\0{PASSWORD}".encode()


def test_redacted_masks_every_password_key() -> None:
    opts = {
        "security_protocol": "SSL",
        "ssl_password": "k",
        "sasl_plain_password": "p",
        "custom_password": "c",
        "sasl_plain_username": "u",
        "ssl_cafile": "/ca",
    }
    assert redacted(opts) == {
        "security_protocol": "SSL",
        "ssl_password": "***",
        "sasl_plain_password": "***",
        "custom_password": "***",
        "sasl_plain_username": "u",
        "ssl_cafile": "/ca",
    }
    assert opts["sasl_plain_password"] == "p"  # a copy; the original is untouched


def test_options_are_accepted_by_kafka_python_clients(pem: Path, password_file: Path) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    opts = kafka_options(
        parse(
            "--security-protocol",
            "SASL_SSL",
            "--sasl-mechanism",
            "SCRAM-SHA-512",
            "--sasl-username",
            "alice",
            "--sasl-password-file",
            str(password_file),
        ),
        env={},
    )
    for cls in (KafkaAdminClient, KafkaConsumer, KafkaProducer):
        defaults = cls.DEFAULT_CONFIG
        unknown = set(opts) - set(defaults)
        assert not unknown, f"{cls.__name__} does not take {unknown}"


@pytest.mark.parametrize("flag", ["--sasl-password", "--ssl-key-password"])
def test_password_flags_are_refused_without_echoing_the_value(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse(flag, PASSWORD)
    err = capsys.readouterr().err
    assert "is not accepted" in err and f"{flag}-file" in err
    assert PASSWORD not in err
