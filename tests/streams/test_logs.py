from __future__ import annotations

import argparse
import io
import json
import logging
from collections.abc import Iterator

import pytest

from homerec.errors import ConfigError
from streams.logs import add_arguments, configure


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    kafka_levels = {n: logging.getLogger(n).level for n in ("kafka", "kafka.net.selector")}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in kafka_levels.items():
        logging.getLogger(name).setLevel(lvl)


def test_json_lines_carry_extras_and_mask_secrets() -> None:
    buf = io.StringIO()
    configure(parse("--log-format", "json"), stream=buf, env={})
    log = logging.getLogger("homerec.worker")
    log.info("processed %d events", 5120, extra={"events": 5120, "dlq": 3, "sasl_password": "pw"})
    log.debug("hidden at INFO")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["msg"] == "processed 5120 events"
    assert doc["logger"] == "homerec.worker" and doc["level"] == "INFO"
    assert doc["events"] == 5120 and doc["dlq"] == 3
    assert doc["sasl_password"] == "***"
    assert doc["ts"].endswith("Z") and doc["ts"][10] == "T"
    assert "args" not in doc and "levelno" not in doc


def test_json_exceptions_stay_on_one_line() -> None:
    buf = io.StringIO()
    configure(parse("--log-format", "json"), stream=buf, env={})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    assert "ValueError: boom" in json.loads(lines[0])["exc"]


def test_text_format_and_level_from_environment() -> None:
    buf = io.StringIO()
    configure(parse(), stream=buf, env={"HOMEREC_LOG_LEVEL": "warning"})
    logging.getLogger("homerec").info("quiet")
    logging.getLogger("homerec").warning("loud")
    out = buf.getvalue()
    assert "quiet" not in out
    assert "WARNING homerec: loud" in out


def test_flags_win_over_environment() -> None:
    buf = io.StringIO()
    configure(parse("--log-format", "text"), stream=buf, env={"HOMEREC_LOG_FORMAT": "json"})
    logging.getLogger("homerec").warning("plain")
    assert not buf.getvalue().startswith("{")


def test_kafka_client_chatter_is_held_back() -> None:
    buf = io.StringIO()
    configure(parse("--log-format", "json"), stream=buf, env={})
    logging.getLogger("kafka.conn").info("connecting to broker")
    assert buf.getvalue() == ""
    configure(parse("--log-level", "debug"), stream=buf, env={})
    logging.getLogger("kafka.conn").debug("connecting to broker")
    assert "connecting to broker" in buf.getvalue()


def test_kafka_cpu_warnings_need_debug() -> None:
    buf = io.StringIO()
    configure(parse(), stream=buf, env={})
    selector = logging.getLogger("kafka.net.selector")
    selector.warning("Task ran for 0.150s (>0.100s threshold)")
    logging.getLogger("kafka.conn").warning("connection refused")
    assert "0.150s" not in buf.getvalue() and "connection refused" in buf.getvalue()
    configure(parse("--log-level", "DEBUG"), stream=buf, env={})
    selector.warning("Task ran for 0.150s (>0.100s threshold)")
    assert "0.150s" in buf.getvalue()


def test_default_stream_follows_sys_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    # Kafka's threads outlive a replaced and closed stderr (pytest capture does this)
    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure(parse(), env={})
    first.close()
    second = io.StringIO()
    monkeypatch.setattr("sys.stderr", second)
    logging.getLogger("homerec").warning("still heard")
    assert second.getvalue().endswith("WARNING homerec: still heard\n")
    assert "Logging error" not in second.getvalue()


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure(parse(), stream=first, env={})
    configure(parse(), stream=second, env={})
    logging.getLogger("homerec").warning("once")
    assert first.getvalue() == "" and second.getvalue().count("once") == 1


@pytest.mark.parametrize("env", [{"HOMEREC_LOG_FORMAT": "xml"}, {"HOMEREC_LOG_LEVEL": "LOUD"}])
def test_bad_environment_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        configure(parse(), stream=io.StringIO(), env=env)


def test_loaded_secrets_are_masked_in_every_line_even_kafka_debug() -> None:
    from streams.security import Secret

    password = Secret("Tr0ub4dor&3-horse")  # noqa: S106 - test value
    buf = io.StringIO()
    configure(parse("--log-format", "json", "--log-level", "DEBUG"), stream=buf, env={})
    # what kafka-python's connection logs at DEBUG for SASL PLAIN
    auth = b"\x00".join([b"user", b"user", password.reveal().encode()])
    logging.getLogger("kafka.conn").debug("Sending SaslAuthenticateRequest(auth_bytes=%r)", auth)
    logging.getLogger("homerec").info(
        "config %s", {"pw": password.reveal()}, extra={"note": str(auth)}
    )
    out = buf.getvalue()
    assert password.reveal() not in out
    assert out.count("***") >= 3
    text = io.StringIO()
    configure(parse(), stream=text, env={})
    logging.getLogger("homerec").warning("oops %s", password.reveal())
    assert password.reveal() not in text.getvalue() and "oops ***" in text.getvalue()


def test_a_secret_containing_another_is_masked_whole() -> None:
    from streams.security import Secret

    short, long = Secret("abcd-1"), Secret("abcd-1-and-more")
    buf = io.StringIO()
    configure(parse(), stream=buf, env={})
    logging.getLogger("homerec").warning("values %s %s", long.reveal(), short.reveal())
    assert "values *** ***" in buf.getvalue()
    assert "and-more" not in buf.getvalue()
