"""Secure Kafka end to end: a second local broker with a SASL_SSL listener (a CA
and broker certificate made here with openssl; PLAIN users in the JAAS config,
SCRAM-SHA-256/512 users created through the admin API), then

- every mechanism round-trips a message with the options of :mod:`streams.security`;
- a wrong password is refused;
- ``homerec topics create``, ``homerec worker`` and ``homerec replay`` run over
  SASL_SSL only, recommendations are read back over SASL_SSL, and no password
  shows up in any output.

The broker is started with deploy/kafka/local-kafka.sh (KAFKA_PORT,
KAFKA_CONTROLLER_PORT, KAFKA_HOME_DIR, KAFKA_EXTRA_PROPERTIES) and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic, UserScramCredentialUpsertion

from streams.codec import decode_homepage
from streams.security import add_arguments, kafka_options

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/kafka/local-kafka.sh"
# test credentials, made up per run (never real secrets); the PLAIN user lives in the
# broker's JAAS config, the SCRAM users are created through the admin API
RUN = uuid.uuid4().hex[:8]
USERS = {
    "PLAIN": ("plain-user", f"plain-{RUN}-pw"),
    "SCRAM-SHA-256": ("scram256-user", f"s256-{RUN}-pw"),
    "SCRAM-SHA-512": ("scram512-user", f"s512-{RUN}-pw"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(  # noqa: S603
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """A throw-away CA and a broker certificate for localhost / 127.0.0.1.

    Returns (CA certificate PEM, broker key + certificate chain PEM for Kafka's
    ``ssl.keystore.type=PEM``)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificates (apt-get install openssl)")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=homerec test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key",
        "-out", "broker.csr", "-subj", "/CN=localhost",
        cwd=directory,
    )  # fmt: skip
    (directory / "broker.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "broker.crt", "-extfile", "broker.ext",
        cwd=directory,
    )  # fmt: skip
    key = (directory / "broker.key").read_text()
    assert "BEGIN PRIVATE KEY" in key, "Kafka's PEM keystore needs a PKCS#8 key"
    keystore = directory / "broker-keystore.pem"
    keystore.write_text(
        key + (directory / "broker.crt").read_text() + (directory / "ca.pem").read_text()
    )
    keystore.chmod(0o600)
    return directory / "ca.pem", keystore


@dataclass(frozen=True)
class SecureBroker:
    plaintext: str  # for the test's own set-up only (SCRAM users)
    sasl_ssl: str
    cafile: Path
    home: Path

    def options(self, mechanism: str, password: str | None = None) -> dict[str, Any]:
        """Client options built the way every homerec command builds them."""
        user, real = USERS[mechanism]
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        args = parser.parse_args(
            ["--security-protocol", "SASL_SSL", "--sasl-mechanism", mechanism,
             "--sasl-username", user, "--ssl-cafile", str(self.cafile)]
        )  # fmt: skip
        return kafka_options(args, env={"HOMEREC_SASL_PASSWORD": password or real})


def _default_jar_cache() -> Path | None:
    version = re.search(
        r"<kafka.version>(.*)</kafka.version>", (REPO / "deploy/kafka/pom.xml").read_text()
    )
    if version is None:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    libs = cache / "homerec/kafka" / f"libs-{version.group(1)}"
    return libs if (libs / ".complete").is_file() else None


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    if shutil.which("java") is None:
        pytest.fail("java is needed for the local broker (apt-get install openjdk-17-jre-headless)")
    tmp = tmp_path_factory.mktemp("sasl-broker")
    certs = tmp / "certs"
    certs.mkdir()
    cafile, keystore = make_certificates(certs)
    home = tmp / "kafka"
    home.mkdir()
    libs = _default_jar_cache()  # reuse the jars the main broker fetched: no second fetch
    port, cport, sport = _free_port(), _free_port(), _free_port()
    plain_user, plain_pw = USERS["PLAIN"]
    extra = tmp / "sasl.properties"
    extra.write_text(
        f"listeners=PLAINTEXT://localhost:{port},CONTROLLER://localhost:{cport},"
        f"SASL_SSL://localhost:{sport}\n"
        f"advertised.listeners=PLAINTEXT://localhost:{port},SASL_SSL://localhost:{sport}\n"
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
        "SASL_SSL:SASL_SSL\n"
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n"
        "listener.name.sasl_ssl.plain.sasl.jaas.config="
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'user_{plain_user}="{plain_pw}";\n'
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
        "ssl.keystore.type=PEM\n"
        f"ssl.keystore.location={keystore}\n"
        "ssl.client.auth=none\n"
    )
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(cport),
        "KAFKA_HOME_DIR": str(home),
        "KAFKA_EXTRA_PROPERTIES": str(extra),
        "KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m",
        "KAFKA_START_TIMEOUT": "120",
        **({"KAFKA_LIBS_DIR": str(libs)} if libs is not None else {}),
    }

    def script(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            ["bash", str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=600
        )

    started = script("start")
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        broker = SecureBroker(f"localhost:{port}", f"localhost:{sport}", cafile, home)
        admin = KafkaAdminClient(bootstrap_servers=broker.plaintext, request_timeout_ms=30_000)
        try:
            result = admin.alter_user_scram_credentials(
                [
                    UserScramCredentialUpsertion(USERS[m][0], m, USERS[m][1])
                    for m in ("SCRAM-SHA-256", "SCRAM-SHA-512")
                ]
            )
            assert all(err is None for err in result.values()), result
        finally:
            admin.close()
        # SCRAM credentials propagate through the metadata log; wait until a login works
        _wait_for_login(broker, "SCRAM-SHA-512")
        yield broker
    finally:
        stopped = script("stop")
        assert stopped.returncode == 0, stopped.stderr


def _wait_for_login(broker: SecureBroker, mechanism: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=broker.sasl_ssl, **broker.options(mechanism))
            admin.list_topics()
            admin.close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_round_trip_over_sasl_ssl(secure_broker: SecureBroker, mechanism: str) -> None:
    opts = secure_broker.options(mechanism)
    topic = f"sasl-{mechanism.lower()}-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=secure_broker.sasl_ssl, **opts)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=secure_broker.sasl_ssl, acks="all", **opts)
    try:
        producer.send(topic, key=b"k", value=mechanism.encode()).get(timeout=30)
    finally:
        producer.close(timeout=10)
    consumer = KafkaConsumer(
        bootstrap_servers=secure_broker.sasl_ssl, enable_auto_commit=False, **opts
    )
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while not values and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
        assert values == [mechanism.encode()]
    finally:
        consumer.close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_wrong_password_is_refused(
    secure_broker: SecureBroker, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kafka")
    opts = secure_broker.options(mechanism, password="not-the-password")  # noqa: S106
    with pytest.raises(Exception) as info:  # noqa: B017,PT011 - kafka-python's error varies
        admin = KafkaAdminClient(
            bootstrap_servers=secure_broker.sasl_ssl,
            request_timeout_ms=5_000,
            bootstrap_timeout_ms=5_000,
            **opts,
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    # TLS and the SASL handshake worked: the refusal is the authentication itself
    messages = [r.getMessage() for r in caplog.records]
    assert any("SaslHandshakeResponse" in m and "error_code=0" in m for m in messages)
    assert any("SaslAuthenticateRequest" in m for m in messages)
    assert "not-the-password" not in str(info.value)


def _homerec(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", *args]


def _read_pages(broker: SecureBroker, topic: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Latest homepage per user in ``topic``, read over SASL_SSL."""
    consumer = KafkaConsumer(bootstrap_servers=broker.sasl_ssl, enable_auto_commit=False, **opts)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        pages: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for records in consumer.poll(timeout_ms=300).values():
                for rec in records:
                    page = decode_homepage(rec.value)
                    pages[page.user] = page
        return pages
    finally:
        consumer.close()


def test_worker_and_replay_over_sasl_ssl(secure_broker: SecureBroker, tmp_path: Path) -> None:
    """The whole pipeline over SASL_SSL only: topics (SCRAM-SHA-512, flags and a
    password file), worker (SCRAM-SHA-512, DEBUG logs), replay (PLAIN, everything
    from HOMEREC_* env vars), recommendations read back (SCRAM-SHA-256)."""
    prefix = f"sasl{uuid.uuid4().hex[:8]}"
    user, password = USERS["SCRAM-SHA-512"]
    password_file = tmp_path / "kafka-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    flags = [
        "--bootstrap", secure_broker.sasl_ssl, "--topic-prefix", prefix,
        "--security-protocol", "SASL_SSL", "--sasl-mechanism", "SCRAM-SHA-512",
        "--sasl-username", user, "--sasl-password-file", str(password_file),
        "--ssl-cafile", str(secure_broker.cafile),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for key in [k for k in env if k.startswith(("HOMEREC_SASL", "HOMEREC_SSL", "HOMEREC_SEC"))]:
        del env[key]
    outputs: list[str] = []

    created = subprocess.run(  # noqa: S603
        _homerec("topics", "create", "--partitions", "2", *flags),
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    outputs += [created.stdout, created.stderr]
    assert created.returncode == 0, created.stderr

    metrics_port = _free_port()
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as out:
        worker = subprocess.Popen(  # noqa: S603
            _homerec(
                "worker", "--model", "popularity", "--metrics-port", str(metrics_port),
                "--log-format", "json", "--log-level", "DEBUG", *flags,
            ),
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        plain_user, plain_password = USERS["PLAIN"]
        replay_env = {
            **env,
            "HOMEREC_BOOTSTRAP": secure_broker.sasl_ssl,
            "HOMEREC_TOPIC_PREFIX": prefix,
            "HOMEREC_SECURITY_PROTOCOL": "SASL_SSL",
            "HOMEREC_SASL_MECHANISM": "PLAIN",
            "HOMEREC_SASL_USERNAME": plain_user,
            "HOMEREC_SASL_PASSWORD": plain_password,
            "HOMEREC_SSL_CAFILE": str(secure_broker.cafile),
        }
        sent = subprocess.run(  # noqa: S603
            _homerec("replay", "--source", "synthetic", "--users", "25", "--items", "40",
                     "--events", "300", "--quiet"),
            cwd=REPO, env=replay_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        outputs += [sent.stdout, sent.stderr]
        assert sent.returncode == 0, sent.stderr

        reader = secure_broker.options("SCRAM-SHA-256")
        topic = f"{prefix}.recommendations"
        deadline = time.monotonic() + 180  # generous: CI machines are shared
        pages: dict[str, Any] = {}
        while len(pages) < 20:
            assert worker.poll() is None, worker_log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{len(pages)} users have lists; log {worker_log}"
            time.sleep(1)
            pages = _read_pages(secure_broker, topic, reader)
        page = next(iter(pages.values()))
        assert page.items and len(page.items) <= 10

        # the worker over SASL_SSL is ready: partitions assigned, caught up
        with urllib.request.urlopen(  # noqa: S310 - loopback
            f"http://127.0.0.1:{metrics_port}/readyz", timeout=5
        ) as resp:
            assert json.loads(resp.read())["assigned_partitions"] == 2
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            code = worker.wait(10)
        outputs.append(worker_log.read_text())
    assert code == 0, outputs[-1][-3000:]

    text = "\n".join(outputs)
    for _, secret in USERS.values():
        assert secret not in text, "a password leaked into the output"
    lines = [json.loads(line) for line in outputs[-1].splitlines() if line.startswith("{")]
    assert any(line["logger"].startswith("kafka") for line in lines), "DEBUG client logs expected"
