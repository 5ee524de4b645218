"""``homerec worker``'s command line: true defaults, rejected nonsense, a fast clear failure."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from homerec.feedback import FeedbackWeights
from homerec.hiding import PRESETS, HidingRules
from homerec.limits import Limits
from homerec.models import WORKER_PARAMS
from streams.cli import build_parser
from streams.worker import WorkerConfig


def closed_port() -> int:
    """A local port that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_defaults_are_the_worker_configs() -> None:
    args = build_parser().parse_args(["worker"])
    config, limits = WorkerConfig(), Limits()
    assert args.k == config.k and args.max_batch == config.max_batch
    assert args.dedup_window == config.dedup_window and args.max_replay == config.max_replay
    assert args.processing_guarantee == config.processing_guarantee
    assert args.item_state_interval == config.item_state_every_s
    assert args.checkpoint_interval == config.checkpoint_every_s
    assert (args.max_id_length, args.max_message_bytes) == (
        limits.max_id_length,
        limits.max_message_bytes,
    )
    assert (args.rating_min, args.rating_max) == (limits.rating_min, limits.rating_max)
    assert args.candidates == WORKER_PARAMS["candidates"]
    assert args.max_tag_share == WORKER_PARAMS["max_tag_share"]
    assert args.hiding == config.hiding == PRESETS["once"]


def test_hiding_takes_a_preset_and_overrides() -> None:
    args = build_parser().parse_args(["worker", "--hiding", "news,skip=5"])
    assert args.hiding == HidingRules.parse("news,skip=5") != PRESETS["news"]


def test_help_shows_the_true_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {WorkerConfig().max_batch})" in text
    assert f"(default {Limits().max_message_bytes})" in text
    assert f"skip={FeedbackWeights().skip:g}" in text
    assert "video: view=200,click=200,share=0,rating=0,skip=30" in text
    assert "(default once;" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--k", "0"], "argument --k: must be a positive integer, got 0"),
        (["--k", "-3"], "argument --k: must be a positive integer, got -3"),
        (["--max-batch", "0"], "argument --max-batch: must be a positive integer"),
        (["--max-tag-share", "0"], "argument --max-tag-share: must be a number in (0, 1]"),
        (["--max-tag-share", "1.5"], "argument --max-tag-share: must be a number in (0, 1]"),
        (["--dedup-window", "-1"], "argument --dedup-window: must be an integer >= 0"),
        (["--checkpoint-interval", "nan"], "argument --checkpoint-interval: must be a finite"),
        (["--metrics-port", "70000"], "argument --metrics-port: must be a port number"),
        (["--max-id-length", "0"], "argument --max-id-length: must be a positive integer"),
        (["--ann-candidates", "-5"], "argument --ann-candidates: must be an integer >= 0"),
        (["--model", "nope"], "argument --model: invalid choice: 'nope'"),
        (["--hiding", "sports"], "argument --hiding: unknown hiding preset 'sports'"),
        (["--hiding", "skip=-2"], "argument --hiding: hiding skip must be in [0, 1,000,000]"),
    ],
)
def test_nonsense_numbers_are_rejected(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["worker", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_ann_candidates_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from homerec import ann
    from streams.cli import main

    monkeypatch.setattr(ann, "hnswlib_available", lambda: False)
    assert main(["worker", "--ann-candidates", "200", "--bootstrap", "x:1"]) == 2
    err = capsys.readouterr().err
    assert "hnswlib" in err and "homerec[ann]" in err
    assert main(["worker", "--ann-candidates", "200", "--model", "popularity"]) == 2
    assert "--model hybrid only" in capsys.readouterr().err


def test_unreachable_broker_fails_fast_with_one_line() -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker", "--bootstrap", f"127.0.0.1:{closed_port()}",
         "--metrics-port", "0", "--connect-timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("homerec worker: error: cannot reach Kafka at 127.0.0.1:")
    assert "within 2s" in lines[0]
    assert elapsed < 30  # kafka-python alone retries for 30 s
