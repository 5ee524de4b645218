"""Kafka connection security: TLS and SASL (PLAIN, SCRAM-SHA-256/512).

Every Kafka-facing command takes the same options, each with an environment
fallback (flags win)::

    --security-protocol    HOMEREC_SECURITY_PROTOCOL   PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    --sasl-mechanism       HOMEREC_SASL_MECHANISM      PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    --sasl-username        HOMEREC_SASL_USERNAME
    --sasl-password-file   HOMEREC_SASL_PASSWORD_FILE  (or the password itself in HOMEREC_SASL_PASSWORD)
    --ssl-cafile           HOMEREC_SSL_CAFILE          CA bundle that signed the broker's certificate
    --ssl-certfile         HOMEREC_SSL_CERTFILE        client certificate (mutual TLS)
    --ssl-keyfile          HOMEREC_SSL_KEYFILE         client private key (mutual TLS)
    --ssl-key-password-file HOMEREC_SSL_KEY_PASSWORD_FILE (or HOMEREC_SSL_KEY_PASSWORD)
    --ssl-no-check-hostname HOMEREC_SSL_CHECK_HOSTNAME=false

A password is never accepted on the command line (it would show in ``ps`` and
shell history): it comes from a file (a mounted Kubernetes Secret, a Docker
secret) or the environment. Secrets are wrapped in :class:`Secret`, whose
``str``/``repr``/``format`` print ``***``, so a client that logs its
configuration does not leak them; :func:`redacted` masks a whole option dict
for our own logs.

>>> import argparse
>>> p = argparse.ArgumentParser(); add_arguments(p)
>>> kafka_options(p.parse_args([]), env={})
{'security_protocol': 'PLAINTEXT'}
>>> opts = kafka_options(p.parse_args(["--security-protocol", "SASL_PLAINTEXT",
...     "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "svc"]),
...     env={"HOMEREC_SASL_PASSWORD": "hunter2"})
>>> redacted(opts)["sasl_plain_password"], str(opts["sasl_plain_password"])
('***', '***')
>>> opts["sasl_plain_password"].reveal()
'hunter2'
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, get_args

from homerec.errors import ConfigError

__all__ = [
    "SASL_MECHANISMS",
    "SECRET_KEYS",
    "SECURITY_PROTOCOLS",
    "SaslMechanism",
    "Secret",
    "SecurityProtocol",
    "add_arguments",
    "kafka_options",
    "redacted",
    "secret_values",
]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SECURITY_PROTOCOLS: Final[tuple[str, ...]] = get_args(SecurityProtocol)
SASL_MECHANISMS: Final[tuple[str, ...]] = get_args(SaslMechanism)

#: kafka-python option names whose values are secrets.
SECRET_KEYS: Final[frozenset[str]] = frozenset(
    {"sasl_plain_password", "ssl_password", "sasl_oauth_token_provider"}
)
_MASK: Final = "***"
_FALSE = {"0", "false", "no", "off"}
_TRUE = {"1", "true", "yes", "on"}


_LIVE_SECRETS: set[str] = set()
_LIVE_LOCK = threading.Lock()


def secret_values() -> frozenset[str]:
    """Every secret value (of 4+ characters) this process has loaded, for log redaction
    (:mod:`streams.logs` masks them in every line, also in the Kafka client's own
    debug output, which prints SASL PLAIN authentication bytes)."""
    with _LIVE_LOCK:
        return frozenset(_LIVE_SECRETS)


class Secret(str):
    """A string that prints as ``***``; :meth:`reveal` returns the value.

    Byte-level uses (``encode``, ``join``, hashing) see the real value, which is
    what the Kafka client needs; every printing path sees the mask. Creating one
    registers the value with :func:`secret_values`.

    >>> s = Secret("pa55")
    >>> f"{s}", str(s), repr(s), "%s" % s
    ('***', '***', "'***'", '***')
    >>> s.encode(), s.reveal(), s == "pa55"
    (b'pa55', 'pa55', True)
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Secret:
        self = super().__new__(cls, value)
        if len(value) >= 4:  # masking 1-3 characters everywhere would garble every log line
            with _LIVE_LOCK:
                _LIVE_SECRETS.add(str.__str__(self))
        return self

    def reveal(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return repr(_MASK)

    def __format__(self, spec: str) -> str:
        return format(_MASK, spec)


class _RefusePassword(argparse.Action):
    """Catches ``--sasl-password VALUE`` (which argparse would otherwise take as an
    abbreviation of ``--sasl-password-file``) without echoing the value."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        env_var = {
            "--sasl-password": "HOMEREC_SASL_PASSWORD",
            "--ssl-key-password": "HOMEREC_SSL_KEY_PASSWORD",
        }.get(option_string or "", "")
        parser.error(
            f"{option_string} is not accepted: a password on the command line shows in ps "
            f"and shell history; use {option_string}-file PATH or the {env_var} "
            "environment variable"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the Kafka security options (all default to their ``HOMEREC_*`` env var)."""
    g = parser.add_argument_group(
        "Kafka security",
        "TLS and SASL for the broker connection; each option falls back to its "
        "HOMEREC_* environment variable. Passwords come from files or the environment, "
        "never from the command line.",
    )
    g.add_argument(
        "--security-protocol",
        choices=SECURITY_PROTOCOLS,
        default=None,
        help="env HOMEREC_SECURITY_PROTOCOL; default PLAINTEXT",
    )
    g.add_argument(
        "--sasl-mechanism",
        choices=SASL_MECHANISMS,
        default=None,
        help="env HOMEREC_SASL_MECHANISM; default PLAIN when the protocol is SASL_*",
    )
    g.add_argument(
        "--sasl-username", default=None, metavar="NAME", help="env HOMEREC_SASL_USERNAME"
    )
    g.add_argument(
        "--sasl-password-file",
        default=None,
        metavar="PATH",
        help="file holding the SASL password (env HOMEREC_SASL_PASSWORD_FILE, "
        "or the password itself in HOMEREC_SASL_PASSWORD)",
    )
    g.add_argument(
        "--sasl-password",
        dest="sasl_password_refused",
        action=_RefusePassword,
        help=argparse.SUPPRESS,
    )
    g.add_argument(
        "--ssl-cafile",
        default=None,
        metavar="PEM",
        help="CA certificates to verify the broker (env HOMEREC_SSL_CAFILE; "
        "default: the system trust store)",
    )
    g.add_argument(
        "--ssl-certfile",
        default=None,
        metavar="PEM",
        help="client certificate for mutual TLS (env HOMEREC_SSL_CERTFILE)",
    )
    g.add_argument(
        "--ssl-keyfile",
        default=None,
        metavar="PEM",
        help="client private key for mutual TLS (env HOMEREC_SSL_KEYFILE)",
    )
    g.add_argument(
        "--ssl-key-password-file",
        default=None,
        metavar="PATH",
        help="file holding the client key's password (env HOMEREC_SSL_KEY_PASSWORD_FILE, "
        "or HOMEREC_SSL_KEY_PASSWORD)",
    )
    g.add_argument(
        "--ssl-key-password",
        dest="ssl_key_password_refused",
        action=_RefusePassword,
        help=argparse.SUPPRESS,
    )
    g.add_argument(
        "--ssl-no-check-hostname",
        action="store_true",
        default=None,
        help="do not match the broker certificate against its host name "
        "(env HOMEREC_SSL_CHECK_HOSTNAME=false); the certificate is still verified",
    )


def _pick(args: argparse.Namespace, attr: str, env: Mapping[str, str], var: str) -> str | None:
    value = getattr(args, attr, None)
    if value is None or value == "":
        value = env.get(var) or None
    return None if value is None else str(value)


def _readable(path: str, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {path!r} does not exist or is not a file")
    if not os.access(p, os.R_OK):
        raise ConfigError(f"{what} {path!r} is not readable")
    return str(p)


def _read_secret(path: str, what: str) -> Secret:
    text = Path(_readable(path, what)).read_text(encoding="utf-8")
    value = text.rstrip("\r\n")  # files written by `echo` end in a newline
    if not value:
        raise ConfigError(f"{what} {path!r} is empty")
    return Secret(value)


def _secret(
    args: argparse.Namespace, attr: str, env: Mapping[str, str], var: str, what: str
) -> Secret | None:
    path = _pick(args, attr, env, f"{var}_FILE")
    if path is not None:
        return _read_secret(path, f"{what} file")
    value = env.get(var)
    if value:
        return Secret(value)
    return None


def kafka_options(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """kafka-python client keyword arguments for the chosen security settings.

    Raises :class:`~homerec.errors.ConfigError` (with the flag to fix) when the
    settings are inconsistent: SASL options without a SASL protocol, TLS files
    without TLS, a SASL protocol without user or password, unreadable files.
    Only the options that apply are returned; the password values are
    :class:`Secret`.
    """
    env = os.environ if env is None else env
    protocol = (
        _pick(args, "security_protocol", env, "HOMEREC_SECURITY_PROTOCOL") or "PLAINTEXT"
    ).upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(
            f"security protocol {protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}"
        )
    mechanism = _pick(args, "sasl_mechanism", env, "HOMEREC_SASL_MECHANISM")
    username = _pick(args, "sasl_username", env, "HOMEREC_SASL_USERNAME")
    password = _secret(args, "sasl_password_file", env, "HOMEREC_SASL_PASSWORD", "SASL password")
    cafile = _pick(args, "ssl_cafile", env, "HOMEREC_SSL_CAFILE")
    certfile = _pick(args, "ssl_certfile", env, "HOMEREC_SSL_CERTFILE")
    keyfile = _pick(args, "ssl_keyfile", env, "HOMEREC_SSL_KEYFILE")
    key_password = _secret(
        args, "ssl_key_password_file", env, "HOMEREC_SSL_KEY_PASSWORD", "SSL key password"
    )
    no_check = getattr(args, "ssl_no_check_hostname", None)
    check_env = env.get("HOMEREC_SSL_CHECK_HOSTNAME", "").strip().lower()
    if check_env and check_env not in _TRUE | _FALSE:
        raise ConfigError(f"HOMEREC_SSL_CHECK_HOSTNAME must be true or false, got {check_env!r}")
    check_hostname = not (no_check or check_env in _FALSE)

    sasl = protocol.startswith("SASL_")
    tls = protocol.endswith("SSL")
    options: dict[str, Any] = {"security_protocol": protocol}

    if sasl:
        mechanism = (mechanism or "PLAIN").upper()
        if mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                f"SASL mechanism {mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}"
            )
        if not username:
            raise ConfigError(
                f"{protocol} needs a user name: --sasl-username or HOMEREC_SASL_USERNAME"
            )
        if password is None:
            raise ConfigError(
                f"{protocol} needs a password: --sasl-password-file, "
                "HOMEREC_SASL_PASSWORD_FILE or HOMEREC_SASL_PASSWORD"
            )
        options.update(
            sasl_mechanism=mechanism, sasl_plain_username=username, sasl_plain_password=password
        )
    else:
        given = [
            name
            for name, value in (
                ("--sasl-mechanism", mechanism),
                ("--sasl-username", username),
                ("a SASL password", password),
            )
            if value
        ]
        if given:
            raise ConfigError(
                f"{' and '.join(given)} given but the security protocol is {protocol}: "
                "use --security-protocol SASL_SSL (or SASL_PLAINTEXT)"
            )

    if tls:
        if keyfile and not certfile:
            raise ConfigError("--ssl-keyfile needs --ssl-certfile (the client certificate)")
        if cafile:
            options["ssl_cafile"] = _readable(cafile, "--ssl-cafile")
        if certfile:
            options["ssl_certfile"] = _readable(certfile, "--ssl-certfile")
        if keyfile:
            options["ssl_keyfile"] = _readable(keyfile, "--ssl-keyfile")
        if key_password is not None:
            options["ssl_password"] = key_password
        options["ssl_check_hostname"] = check_hostname
    else:
        given = [
            name
            for name, value in (
                ("--ssl-cafile", cafile),
                ("--ssl-certfile", certfile),
                ("--ssl-keyfile", keyfile),
                ("an SSL key password", key_password),
            )
            if value
        ]
        if no_check or check_env in _FALSE:
            given.append("--ssl-no-check-hostname")
        if given:
            raise ConfigError(
                f"{' and '.join(given)} given but the security protocol is {protocol}: "
                "use --security-protocol SSL or SASL_SSL"
            )
    return options


def redacted(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``options`` with every secret value replaced by ``"***"``.

    >>> redacted({"security_protocol": "SASL_SSL", "sasl_plain_password": "x"})
    {'security_protocol': 'SASL_SSL', 'sasl_plain_password': '***'}
    """
    return {
        key: (_MASK if (key in SECRET_KEYS or "password" in key) and value is not None else value)
        for key, value in options.items()
    }
