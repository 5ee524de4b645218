"""Logging for the commands: human text or one JSON object per line.

``--log-format json`` (env ``HOMEREC_LOG_FORMAT``) writes lines such as::

    {"ts": "2026-11-29T05:01:02.345Z", "level": "INFO", "logger": "homerec.worker",
     "msg": "processed 5120 events (1024/s) ...", "events": 5120, "dlq": 3}

Fields passed with ``extra={...}`` become top-level keys, so a log pipeline can
chart ``events`` or ``dlq`` without parsing the message. The worker logs one
summary line every few seconds (counts, rates, lag), never a line per event.

The chatty Kafka client loggers are held at WARNING unless ``--log-level DEBUG``
(kafka-python's "task ran for 0.150s" CPU warnings at ERROR). Records go to the
``sys.stderr`` of the moment they are written, not the one at set-up.
Any field whose name looks like a secret (``password``, ``secret``, ``token``)
is written as ``"***"``, and every secret value loaded by
:mod:`streams.security` is masked wherever it appears in a line (kafka-python's
DEBUG output prints SASL PLAIN authentication bytes).

>>> import argparse, io, json, logging
>>> p = argparse.ArgumentParser(); add_arguments(p)
>>> buf = io.StringIO()
>>> configure(p.parse_args(["--log-format", "json"]), stream=buf, env={})
>>> logging.getLogger("homerec.demo").info("batch done", extra={"events": 3})
>>> doc = json.loads(buf.getvalue()); (doc["msg"], doc["events"], doc["level"])
('batch done', 3, 'INFO')
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, Final

from homerec.errors import ConfigError

__all__ = [
    "FORMATS",
    "JsonFormatter",
    "RedactSecrets",
    "add_arguments",
    "configure",
    "hold_back_kafka",
    "quiet_kafka",
]

FORMATS: Final = ("text", "json")
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# attributes every LogRecord has; anything else on a record came from ``extra=``
_RESERVED: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}
_SECRET_WORDS: Final = ("password", "secret", "token", "credential")
_NOISY: Final = ("kafka", "kafka.conn", "kafka.net", "kafka.coordinator", "kafka.consumer")
# kafka-python's network thread warns whenever one of its tasks held the CPU for
# more than 100 ms ("It is blocking the event loop"); on a busy host that is every
# few seconds and says nothing an operator can act on. Shown with --log-level DEBUG.
_CPU_WARNINGS: Final = ("kafka.net.selector",)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg`` + extras.

    >>> rec = logging.LogRecord("a", logging.WARNING, "f", 1, "n=%d", (2,), None)
    >>> rec.password = "x"; rec.partition = 3
    >>> json.loads(JsonFormatter().format(rec)) == {"ts": json.loads(
    ...     JsonFormatter().format(rec))["ts"], "level": "WARNING", "logger": "a",
    ...     "msg": "n=2", "password": "***", "partition": 3}
    True
    """

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _RESERVED or key.startswith("_") or key in doc:
                continue
            if any(word in key.lower() for word in _SECRET_WORDS):
                value = "***"
            doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class RedactSecrets(logging.Filter):
    """Masks every loaded secret (:func:`streams.security.secret_values`) in a record's
    message and string extras, whichever logger wrote it. kafka-python's DEBUG
    output, for one, prints the SASL PLAIN authentication bytes, password included.

    >>> from streams.security import Secret
    >>> _ = Secret("pa55word")
    >>> rec = logging.LogRecord("kafka", 10, "f", 1, "auth=%r", (b"u\\x00pa55word",), None)
    >>> RedactSecrets().filter(rec), rec.getMessage()
    (True, "auth=b'u\\\\x00***'")
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from streams.security import secret_values

        secrets = secret_values()
        if not secrets:
            return True
        message = record.getMessage()
        masked = _mask(message, secrets)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key not in _RESERVED and isinstance(value, str):
                setattr(record, key, _mask(value, secrets))
        return True


def _mask(text: str, secrets: frozenset[str]) -> str:
    # longest first: a secret that contains another must not be left half-masked
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
        # the same secret as it appears inside a repr() of bytes or str
        for form in (repr(secret.encode())[2:-1], repr(secret)[1:-1]):
            if form != secret and form in text:
                text = text.replace(form, "***")
    return text


def _iso(created: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--log-format`` and ``--log-level`` (env HOMEREC_LOG_FORMAT, HOMEREC_LOG_LEVEL)."""
    g = parser.add_argument_group("logging")
    g.add_argument(
        "--log-format",
        choices=FORMATS,
        default=None,
        help="text for people, json for log pipelines (env HOMEREC_LOG_FORMAT; default text)",
    )
    g.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        default=None,
        help="env HOMEREC_LOG_LEVEL; default INFO",
    )


def configure(
    args: argparse.Namespace,
    *,
    stream: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Set up the root logger once for a command (replaces earlier handlers)."""
    env = os.environ if env is None else env
    fmt = (getattr(args, "log_format", None) or env.get("HOMEREC_LOG_FORMAT") or "text").lower()
    level = (getattr(args, "log_level", None) or env.get("HOMEREC_LOG_LEVEL") or "INFO").upper()
    if fmt not in FORMATS:
        raise ConfigError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise ConfigError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    hold_back_kafka(debug=level == "DEBUG")


def hold_back_kafka(*, debug: bool = False) -> None:
    """Kafka client loggers at WARNING, its CPU-time warnings at ERROR (all at DEBUG if
    ``debug``); for commands that set up logging themselves, like ``homerec demo``."""
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in _CPU_WARNINGS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.ERROR)


@contextmanager
def quiet_kafka() -> Iterator[None]:
    """Silence the Kafka client loggers for the duration (not below their DEBUG setting).

    For a short probe of the broker whose failure the caller reports in one line
    of its own: kafka-python logs every refused connection and retry at
    WARNING and ERROR, over a hundred lines before its own timeout.
    """
    loggers = [logging.getLogger(name) for name in _NOISY + _CPU_WARNINGS]
    before = [lg.level for lg in loggers]
    try:
        for lg, level in zip(loggers, before, strict=True):
            if level != logging.DEBUG:
                lg.setLevel(logging.CRITICAL + 1)
        yield
    finally:
        for lg, level in zip(loggers, before, strict=True):
            lg.setLevel(level)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    A handler bound to the stream of the moment keeps writing to it after it is
    replaced and closed (pytest's capture, an embedding application): Kafka's
    background threads then fail with "I/O operation on closed file".
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)
