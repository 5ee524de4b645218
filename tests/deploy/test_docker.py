"""deploy/docker/Dockerfile: python:3.11-slim, pip install of this project, the
homerec entry point, and only paths that exist (no Docker engine here to build it)."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.catalog import ROOT

DOCKERFILE = ROOT / "deploy/docker/Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_base_image_and_install() -> None:
    ins = _instructions()
    froms = [rest for op, rest in ins if op == "FROM"]
    assert froms and all(f.split()[0] == "python:3.11-slim" for f in froms)
    runs = " ".join(rest for op, rest in ins if op == "RUN")
    assert "pip wheel" in runs and "pip install" in runs
    assert ("ENTRYPOINT", '["homerec"]') in ins
    assert ("CMD", '["worker", "--metrics-port", "9400"]') in ins
    assert ("EXPOSE", "9400") in ins
    user = [rest for op, rest in ins if op == "USER"]
    assert user and not user[-1].startswith("0"), "run as a non-root user"


def test_copied_sources_exist_and_cover_the_packages() -> None:
    copies = [rest.split() for op, rest in _instructions() if op == "COPY" and "--from" not in rest]
    sources = {src for args in copies for src in args[:-1]}
    for src in sources:
        assert (ROOT / src).exists(), f"COPY of missing {src}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in include:
        assert pattern.rstrip("*") in sources, f"package {pattern} is not copied"
    assert "pyproject.toml" in sources
    assert "setup.py" in sources  # it builds the compiled kernels
    readme = project["project"].get("readme")
    if readme:
        assert readme in sources


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignore = (ROOT / "deploy/docker/Dockerfile.dockerignore").read_text().splitlines()
    kept = {re.sub(r"^!|/$", "", line) for line in ignore if line.startswith("!")}
    assert {"pyproject.toml", "setup.py", "README.md", "homerec", "streams"} <= kept
