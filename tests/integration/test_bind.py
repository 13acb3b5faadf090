"""Binding to the lab's DCs: TLS modes, certificate checks, refused accounts, back-off, Kerberos.

Every failure must show per DC in the metrics and the log with a reason an admin can act on,
must never end the process, and a refused bind must not be retried in a loop.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import shutil
import signal
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ldap3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ad_health_exporter import config as config_mod
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.ldap import BindRefused, Directory
from support.exporter import RunningExporter, run_cli, start_exporter, stop_exporter
from support.lab import exporter_config

WAIT = 60  # seconds: a few inventory runs at the test intervals


# --- helpers ---------------------------------------------------------------------------------


def monitor_password(lab) -> str:
    return Path(lab.info.monitor.password_file).read_text().strip()


def samba_tool(lab, *args: str) -> str:
    out = lab.run("dc1", ["samba-tool", *args, "-H", str(lab.cfg.sam_ldb("dc1"))])
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def bad_password_count(lab, user: str) -> int:
    """badPwdCount is not replicated: the sum over the DCs counts every refused bind."""
    total = 0
    for dc in lab.info.dcs:
        out = lab.run(dc, ["ldbsearch", "-H", str(lab.cfg.sam_ldb(dc)), f"(sAMAccountName={user})", "badPwdCount"])
        m = re.search(r"^badPwdCount: (\d+)", out.stdout, re.M)
        total += int(m.group(1)) if m else 0
    return total


@contextmanager
def temp_user(lab, lockout_threshold: int | None = None) -> Iterator[tuple[str, str]]:
    """A fresh domain user (name, password) on both DCs, optionally under a lockout policy."""
    name = f"adsec{secrets.token_hex(3)}"
    password = "Tp-" + secrets.token_urlsafe(12)
    pso = f"{name}-pso"
    samba_tool(lab, "user", "create", name, password)
    try:
        if lockout_threshold is not None:
            samba_tool(lab, "domain", "passwordsettings", "pso", "create", pso, "1",
                       f"--account-lockout-threshold={lockout_threshold}", "--account-lockout-duration=30",
                       "--reset-account-lockout-after=30")
            samba_tool(lab, "domain", "passwordsettings", "pso", "apply", pso, name)
        lab.replicate("dc2", "dc1")
        yield name, password
    finally:
        if lockout_threshold is not None:
            lab.run(
                "dc1",
                ["samba-tool", "domain", "passwordsettings", "pso", "delete", pso, "-H", str(lab.cfg.sam_ldb("dc1"))],
            )
        lab.run("dc1", ["samba-tool", "user", "delete", name, "-H", str(lab.cfg.sam_ldb("dc1"))])
        lab.replicate("dc2", "dc1")


@contextmanager
def running(lab, tmp_path: Path, **overrides) -> Iterator[RunningExporter]:
    cfg = exporter_config(lab.info, tmp_path / "config.yml", **overrides)
    exp = start_exporter(cfg, tmp_path / "exporter.log")
    try:
        yield exp
    finally:
        stop_exporter(exp)


def bind_for(lab, tmp_path: Path, user: str, password: str) -> dict:
    pw = tmp_path / f"{user}.password"
    pw.write_text(password)
    pw.chmod(0o600)
    return {"user": f"{user}@{lab.info.domain}", "password_file": str(pw)}


def wait_inventory(exp: RunningExporter, value: float) -> None:
    exp.wait_for(lambda s: exp.value("ad_check_success", check="inventory") == value, WAIT,
                 f"ad_check_success{{check=inventory}} == {value}")


def failure_lines(exp: RunningExporter) -> str:
    return "\n".join(line for line in exp.log().splitlines() if "check failed" in line or "backing off" in line)


# --- TLS modes and certificates --------------------------------------------------------------


def test_starttls_and_graceful_stop(lab, tmp_path: Path) -> None:
    with running(lab, tmp_path, tls={"mode": "starttls", "ca_file": str(lab.info.ca_file)}) as exp:
        wait_inventory(exp, 1.0)
        exp.process.send_signal(signal.SIGTERM)
        assert exp.process.wait(20) == 0
    log = exp.log()
    assert "shutting down" in log and "stopped" in log
    assert monitor_password(lab) not in log


def test_certificate_not_trusted_is_named_per_dc(lab, tmp_path: Path) -> None:
    """LDAPS verifies by default: without the lab CA the system store does not trust the DCs."""
    with running(lab, tmp_path, tls={"mode": "ldaps"}) as exp:
        wait_inventory(exp, 0.0)
        body = urlopen_text(exp.url + "/")
        lines = failure_lines(exp)
    dc1 = lab.info.dcs["dc1"].fqdn
    assert re.search(
        rf"{re.escape(dc1)}: .*TLS certificate does not verify: (self.signed|unable to get local issuer)", lines
    ), lines
    assert "TLS certificate does not verify" in body  # the status page says it too
    assert exp.process.returncode == 0  # stopped by us, never crashed


def urlopen_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_plain_ldap_only_with_opt_in(lab, tmp_path: Path) -> None:
    cfg = exporter_config(lab.info, tmp_path / "plain.yml", tls={"mode": "none"})
    proc = run_cli("--check-config", "--config.file", str(cfg))
    assert proc.returncode == 2 and "allow_insecure_bind" in proc.stderr
    # With the opt-in the exporter tries, and Samba's default refuses a clear-text simple bind.
    with running(lab, tmp_path, tls={"mode": "none", "allow_insecure_bind": True}) as exp:
        wait_inventory(exp, 0.0)
        lines = failure_lines(exp)
    assert "requires an encrypted connection for this bind (use tls.mode ldaps or starttls)" in lines, lines


def smb_conf_path(conf: str, option: str) -> Path:
    found = re.search(rf"^\s*{option}\s*=\s*(\S+)", conf, re.M)
    assert found is not None, f"no {option} in the DC's smb.conf"
    return Path(found.group(1))


def rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    """A key of the lab's PKI (openssl req -newkey rsa:2048)."""
    key = serialization.load_pem_private_key(pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@contextmanager
def dc_certificate(lab, dc: str, *, expired: bool) -> Iterator[None]:
    """Give the DC a certificate from the lab CA that expired yesterday; restore the real one after."""
    conf = Path(lab.info.dcs[dc].smb_conf).read_text()
    cert_path, key_path = smb_conf_path(conf, "tls certfile"), smb_conf_path(conf, "tls keyfile")
    ca_pem = Path(lab.info.ca_file)
    ca_key = rsa_key((ca_pem.parent / "ca.key").read_bytes())
    ca_cert = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    real = cert_path.read_bytes()
    current = x509.load_pem_x509_certificate(real)
    key = rsa_key(key_path.read_bytes())
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(current.subject).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=10)).not_valid_after(now - dt.timedelta(days=1)))
    for ext in current.extensions:
        if ext.oid != x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
            builder = builder.add_extension(ext.value, ext.critical)
    fake = builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    backup = cert_path.with_suffix(".pem.orig")
    shutil.copy2(cert_path, backup)
    try:
        lab.stop_dc(dc)
        cert_path.write_bytes(fake)
        lab.start_dc(dc)
        yield
    finally:
        lab.stop_dc(dc)
        cert_path.write_bytes(real)
        backup.unlink(missing_ok=True)
        lab.start_dc(dc)
        assert_dc_serves_verified_ldaps(lab, dc)


def assert_dc_serves_verified_ldaps(lab, dc: str) -> None:
    info = lab.info.dcs[dc]
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(lab.info.ca_file), valid_names=[info.fqdn])
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = ldap3.Connection(ldap3.Server(info.ip, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE,
                                                 connect_timeout=3), raise_exceptions=True)
            conn.open()
            conn.unbind()
            return
        except ldap3.core.exceptions.LDAPException:
            assert time.monotonic() < deadline, f"{dc} does not serve verified LDAPS after the restore"
            time.sleep(1)


def test_expired_dc_certificate_is_named(lab, tmp_path: Path) -> None:
    dc2 = lab.info.dcs["dc2"].fqdn
    with dc_certificate(lab, "dc2", expired=True):
        with running(lab, tmp_path) as exp:
            exp.wait_for(lambda s: exp.value("ad_domain_controller_up", domain_controller=dc2) == 0.0, WAIT, "dc2 down")
            assert exp.value("ad_domain_controller_up", domain_controller=lab.info.dcs["dc1"].fqdn) == 1.0
            assert exp.value("ad_check_success", check="inventory") == 1.0
            log = exp.log()
    lines = [line for line in log.splitlines() if dc2 in line and "certificate" in line]
    assert lines and "TLS certificate does not verify: certificate has expired" in lines[0], log[-2000:]


def test_unreachable_dc_is_reported_and_skipped(lab, tmp_path: Path) -> None:
    faults = lab.info.faults
    if not getattr(faults, "injected", False):
        pytest.skip("the lab was built without its standing faults (no record of a decommissioned DC)")
    old = faults.old_dc_address.fqdn  # resolves to a ghost address that refuses connections
    with running(lab, tmp_path, domain_controllers=[old, lab.info.dcs["dc1"].fqdn]) as exp:
        wait_inventory(exp, 1.0)  # the next seed serves the topology
        time.sleep(6)  # another inventory run: the dead seed is skipped, not retried at once
        lines = failure_lines(exp)
    warn = [line for line in lines.splitlines() if f"domain_controller={old}" in line and "level=warn" in line]
    assert len(warn) == 1, lines  # logged once, not on every run
    assert re.search(r"reason=\"?[^\n]*connection refused", warn[0]) and "retry_in_seconds=5" in warn[0], warn[0]


# --- refused accounts and back-off -----------------------------------------------------------


def test_wrong_password_is_not_retried_in_a_loop(lab, tmp_path: Path) -> None:
    with temp_user(lab, lockout_threshold=100) as (user, password):
        bind = bind_for(lab, tmp_path, user, "not-" + password)
        with running(lab, tmp_path, bind=bind) as exp:
            wait_inventory(exp, 0.0)
            time.sleep(15)  # three more inventory runs at the test interval
            assert exp.value("ad_check_success", check="inventory") == 0.0
            attempts = bad_password_count(lab, user)
            lines = failure_lines(exp)
            # Fix the password file and reload: the exporter binds again at once.
            Path(bind["password_file"]).write_text(password)
            exp.process.send_signal(signal.SIGHUP)
            wait_inventory(exp, 1.0)
            log = exp.log()
    assert attempts == 1, f"{attempts} refused binds: the exporter retried a refused credential\n{lines}"
    dc1 = lab.info.dcs["dc1"].fqdn
    assert f"{dc1}: bind as {user}@{lab.info.domain} failed: wrong password (or unknown user) (AD error 0x52e)" in lines
    assert re.search(
        rf"not binding as {user}@\S+: {re.escape(dc1)} refused it: wrong password .*next attempt in \d+s", lines
    ), lines
    assert password not in log and "not-" + password not in log


@pytest.mark.parametrize("state", ["locked", "disabled"])
def test_locked_or_disabled_account_is_named(lab, tmp_path: Path, state: str) -> None:
    with temp_user(lab, lockout_threshold=2 if state == "locked" else None) as (user, password):
        dc1 = lab.info.dcs["dc1"]
        if state == "locked":
            server = ldap3.Server(dc1.ip, port=636, use_ssl=True, get_info=ldap3.NONE, tls=ldap3.Tls(
                validate=ssl.CERT_REQUIRED, ca_certs_file=str(lab.info.ca_file), valid_names=[dc1.fqdn]))
            for _ in range(2):
                assert not ldap3.Connection(server, user=f"{user}@{lab.info.domain}", password="wrong").bind()
            expected = "the bind account is locked out (AD error 0x775)"
        else:
            samba_tool(lab, "user", "disable", user)
            expected = "the bind account is disabled (AD error 0x533)"
        with running(lab, tmp_path, bind=bind_for(lab, tmp_path, user, password),
                     domain_controllers=[dc1.fqdn]) as exp:
            wait_inventory(exp, 0.0)
            lines = failure_lines(exp)
            assert exp.process.poll() is None
    assert f"{dc1.fqdn}: bind as {user}@{lab.info.domain} failed: {expected}" in lines, lines


# --- Kerberos --------------------------------------------------------------------------------


def write_krb5_conf(lab, path: Path) -> Path:
    """Names the lab KDC by address: lab names never reach the host's resolver."""
    kdcs = "\n".join(f"        kdc = {dc.ip}" for dc in lab.info.dcs.values())
    path.write_text(
        "[libdefaults]\n"
        f"    default_realm = {lab.info.realm}\n"
        "    dns_lookup_kdc = false\n    dns_lookup_realm = false\n"
        "    dns_canonicalize_hostname = false\n    rdns = false\n"
        f"[realms]\n    {lab.info.realm} = {{\n{kdcs}\n    }}\n"
        f"[domain_realm]\n    .{lab.info.domain} = {lab.info.realm}\n    {lab.info.domain} = {lab.info.realm}\n"
    )
    return path


STRONG_AUTH = "ldap server require strong auth"


@contextmanager
def sasl_over_tls_allowed(lab, dc: str) -> Iterator[None]:
    """Samba's default refuses SASL binds without signing even over TLS; allow them on TLS for a while."""
    conf = Path(lab.info.dcs[dc].smb_conf)
    original = conf.read_text()
    if re.search(rf"^\s*{STRONG_AUTH}\s*=\s*(allow_sasl_over_tls|no)\s*$", original, re.M):
        yield
        return
    try:
        lab.stop_dc(dc)
        conf.write_text(original.replace("[global]\n", f"[global]\n\t{STRONG_AUTH} = allow_sasl_over_tls\n", 1))
        lab.start_dc(dc)
        yield
    finally:
        lab.stop_dc(dc)
        conf.write_text(original)
        lab.start_dc(dc)
        assert_dc_serves_verified_ldaps(lab, dc)


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_gssapi_bind_from_keytab(lab, tmp_path: Path, monkeypatch, mode: str) -> None:
    pytest.importorskip("gssapi")
    info = lab.info
    dc1 = info.dcs["dc1"]
    keytab = tmp_path / "monitor.keytab"
    principal = f"{info.monitor.user}@{info.realm}"
    # On a DC, lab.run points samba-tool at that DC's smb.conf (and so its local database).
    out = lab.run("dc1", ["samba-tool", "domain", "exportkeytab", str(keytab), f"--principal={principal}"])
    assert out.returncode == 0 and keytab.exists(), out.stdout + out.stderr
    ccache_dir = tmp_path / "ccache"
    ccache_dir.mkdir()
    monkeypatch.setenv("KRB5_CONFIG", str(write_krb5_conf(lab, tmp_path / "krb5.conf")))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{ccache_dir}/krb5cc")  # must stay unused: the exporter keeps its own
    bind = {"method": "gssapi", "keytab": str(keytab), "principal": principal}
    tls = {"mode": mode, "ca_file": str(info.ca_file)}

    doc = exporter_config(info, tmp_path / "config.yml", bind=bind, tls=tls, domain_controllers=[dc1.fqdn])
    domain = config_mod.load(doc, CHECKS).domains[0]
    strong = re.search(rf"^\s*{STRONG_AUTH}\s*=\s*(\S+)", Path(dc1.smb_conf).read_text(), re.M)
    if strong is None or strong.group(1) == "yes":
        # What Samba says by default: the reason names the setting to change.
        with pytest.raises(BindRefused, match="allow_sasl_over_tls") as refused:
            Directory(domain).connect(dc1.fqdn)
        assert not refused.value.account_problem

    with sasl_over_tls_allowed(lab, "dc1"):
        directory = Directory(domain)
        with directory.connect(dc1.fqdn) as conn:
            me = conn.read(info.monitor.dn, ("sAMAccountName",))
            assert me is not None and me.text("sAMAccountName") == info.monitor.user
        dc2 = info.dcs["dc2"].fqdn
        with running(lab, tmp_path, bind=bind, tls=tls, domain_controllers=[dc1.fqdn]) as exp:
            wait_inventory(exp, 1.0)
            # The other DC kept Samba's default: the checks that bind to it say what to change there.
            exp.wait_for(lambda s: f"domain_controller={dc2}" in failure_lines(exp), WAIT, "a check binding to dc2")
    assert list(ccache_dir.iterdir()) == []  # no ticket was written to disk
    lines = failure_lines(exp).splitlines()
    assert not [line for line in lines if f"domain_controller={dc1.fqdn}" in line and "bind as" in line], lines
    assert any(f"domain_controller={dc2}" in line and "allow_sasl_over_tls" in line for line in lines), lines
