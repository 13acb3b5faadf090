"""The deployment examples under deploy/: each is valid for the tool that reads it, and secure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ad_health_exporter import cli, config
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.web import settings as web_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "ad-health-exporter.service"
K8S = DEPLOY / "kubernetes" / "ad-health-exporter.yml"


def unit_options() -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    # systemd allows repeated keys; collect every value.
    for raw in UNIT.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        options.setdefault(key.strip(), []).append(value.strip())
    return options


def test_systemd_unit_is_sandboxed() -> None:
    o = unit_options()
    assert o["DynamicUser"] == ["yes"]
    assert any(v.startswith("bind-password:") for v in o["LoadCredential"])
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "UMask": "0077", "CapabilityBoundingSet": "",
    }.items():
        assert o[key] == [value], key
    assert o["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    args = o["ExecStart"][0].split()
    assert Path(args[0]).name == "ad-health-exporter"
    cli._parser().parse_args(args[1:])  # every flag exists


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_verifies_and_scores_low_exposure(tmp_path: Path) -> None:
    # verify needs ExecStart to exist: point it at this checkout's entry point.
    exe = Path(sys.executable).parent / "ad-health-exporter"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/ad-health-exporter/bin/ad-health-exporter", str(exe)))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Exposure is scored 0-10 (lower is better); --threshold is in tenths: fail above 2.0.
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(unit)],
                              capture_output=True, text=True, timeout=60)
    assert security.returncode == 0, security.stdout[-2000:] + security.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (make deps)")
def test_prometheus_example(tmp_path: Path) -> None:
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    data = yaml.safe_load(text)
    job = next(j for j in data["scrape_configs"] if j["job_name"] == "ad-health-exporter")
    assert job["scheme"] == "https" and job["static_configs"][0]["targets"][0].endswith(":10088")
    # The alert rules name this job.
    assert 'job="ad-health-exporter"' in (ROOT / "alerts" / "ad-health.rules.yml").read_text()
    # Point the files it names at stand-ins and let promtool check it, rules included.
    shutil.copy(ROOT / "alerts" / "ad-health.rules.yml", tmp_path / "ad-health.rules.yml")
    (tmp_path / "ca.pem").write_text("")
    (tmp_path / "password").write_text("x")
    text = text.replace("/etc/prometheus/ad-health-exporter/ca.pem", str(tmp_path / "ca.pem"))
    text = text.replace("/etc/prometheus/ad-health-exporter/password", str(tmp_path / "password"))
    (tmp_path / "prometheus.yml").write_text(text)
    proc = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed (make deps)")
def test_alertmanager_example_routes_ad_alerts(tmp_path: Path) -> None:
    path = DEPLOY / "prometheus" / "alertmanager.yml"
    proc = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for labels, receiver in (
        (["alertname=ADReplicationLinkFailing", "severity=warning", "domain=corp.example.com"], "ad-admins"),
        (["alertname=ADDomainControllerClockSkewNearKerberosLimit", "severity=critical"], "ad-admins-page"),
        (["alertname=NodeDown", "severity=critical"], "default"),
    ):
        route = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={path}", *labels],
                               capture_output=True, text=True, timeout=60)
        assert route.returncode == 0 and route.stdout.strip() == receiver, (labels, route.stdout, route.stderr)


def k8s() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(K8S.read_text())}


def test_kubernetes_example(tmp_path: Path) -> None:
    docs = k8s()
    assert set(docs) == {"Secret", "ConfigMap", "Deployment", "Service"}
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"]
    args = cli._parser().parse_args(container["args"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    port = container["ports"][0]["containerPort"]
    assert args.listen_address.endswith(f":{port}") and docs["Service"]["spec"]["ports"][0]["port"] == 10088

    # Files the arguments and configuration name are where the volumes put them.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    files: dict[str, str] = {}
    for name, path in mounts.items():
        vol = volumes[name]
        if "configMap" in vol:
            for key, value in docs["ConfigMap"]["data"].items():
                files[f"{path}/{key}"] = value
        elif vol["secret"]["secretName"] == docs["Secret"]["metadata"]["name"]:
            for key, value in docs["Secret"]["stringData"].items():
                files[f"{path}/{key}"] = value
        else:
            files[f"{path}/tls.crt"] = files[f"{path}/tls.key"] = "(from another secret)"
    assert args.config_file in files and args.web_config_file in files

    # Both configurations are valid, read from a copy of the pod's file tree.
    for name, content in files.items():
        target = tmp_path / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    def rebase(text: str) -> str:
        return text.replace("/etc/ad-health-exporter/", f"{tmp_path}/etc/ad-health-exporter/")

    cfg = config.parse(yaml.safe_load(rebase(files[args.config_file])), CHECKS, base=tmp_path)
    assert cfg.domains[0].bind.password is not None
    web = web_settings.parse(yaml.safe_load(rebase(files[args.web_config_file])), base=tmp_path)
    assert web.tls is not None and web.users
