"""--web.config.file parsing: the exporter-toolkit format, unknown keys and weak settings refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import bcrypt
import pytest
import yaml

from ad_health_exporter.web.basic_auth import BasicAuth
from ad_health_exporter.web.settings import TlsServerConfig, WebConfig, WebConfigError, bcrypt_cost, load
from ad_health_exporter.web.tls import ssl_context
from support.pki import TestCA

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HASH_10 = bcrypt.hashpw(b"scrape-secret", bcrypt.gensalt(10)).decode()



def tls_of(cfg: WebConfig) -> TlsServerConfig:
    """The TLS section of a file that has one."""
    assert cfg.tls is not None, "no tls_server_config"
    return cfg.tls

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    return ca, ca.issue("server", dns=("localhost",), ips=("127.0.0.1",))


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def tls_block(pki, **extra) -> dict:
    ca, server = pki
    return {"cert_file": str(server.cert), "key_file": str(server.key), **extra}


def test_empty_file_means_plain_http(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, ""))
    assert cfg.tls is None and not cfg.users and cfg.headers == ()


def test_full_config_parses(tmp_path: Path, pki) -> None:
    ca, _ = pki
    data = {
        "tls_server_config": tls_block(
            pki,
            client_auth_type="RequireAndVerifyClientCert",
            client_ca_file=str(ca.cert),
            client_allowed_sans=["prometheus.example"],
            min_version="TLS13",
            cipher_suites=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"],
        ),
        "http_server_config": {
            "http2": False,
            "headers": {"X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000"},
        },
        "basic_auth_users": {"prometheus": HASH_10},
    }
    cfg = load(write(tmp_path, data))
    assert tls_of(cfg).client_auth_type == "RequireAndVerifyClientCert"
    assert tls_of(cfg).min_version == "TLS13" and tls_of(cfg).max_version == "TLS13"
    assert tls_of(cfg).cipher_suites == ("ECDHE-RSA-AES128-GCM-SHA256",)  # TLS 1.3 names are not configurable
    assert tls_of(cfg).client_allowed_sans == ("prometheus.example",)
    assert dict(cfg.headers) == {"X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000"}
    assert set(cfg.users) == {"prometheus"}
    ctx = ssl_context(tls_of(cfg))
    assert ctx.verify_mode.name == "CERT_REQUIRED"


def test_relative_paths_are_taken_from_the_file(tmp_path: Path, pki) -> None:
    _, server = pki
    shutil.copy(server.cert, tmp_path / "c.pem")
    shutil.copy(server.key, tmp_path / "k.pem")
    cfg = load(write(tmp_path, {"tls_server_config": {"cert_file": "c.pem", "key_file": "k.pem"}}))
    assert tls_of(cfg).cert_file == tmp_path.resolve() / "c.pem"
    ssl_context(tls_of(cfg))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tls_server_config": {"cert_file": "x"}}, "tls_server_config: missing key_file"),
        (
            {"tls_server_config": {"cert_file": "x", "key_file": "y", "min_version": "TLS11"}},
            "tls_server_config.min_version: TLS11 is too weak",
        ),
        ({"tls_server_config": {"cert_file": "x", "key_file": "y", "min_version": "TLS10"}}, "TLS10 is too weak"),
        ({"tls_server_config": {"cert_file": "x", "key_file": "y", "min_version": "SSL3"}}, "must be TLS12 or TLS13"),
        (
            {"tls_server_config": {"cert_file": "x", "key_file": "y", "min_version": "TLS13", "max_version": "TLS12"}},
            "max_version: TLS12 is below min_version TLS13",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "x",
                    "key_file": "y",
                    "cipher_suites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"],
                }
            },
            "cipher_suites[0]: TLS_RSA_WITH_AES_128_GCM_SHA256 is weak",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "x",
                    "key_file": "y",
                    "cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"],
                }
            },
            "is weak",
        ),
        (
            {"tls_server_config": {"cert_file": "x", "key_file": "y", "cipher_suites": ["NOPE"]}},
            "unknown cipher suite 'NOPE'",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "x",
                    "key_file": "y",
                    "client_auth_type": "RequireAnyClientCert",
                    "client_ca_file": "ca",
                }
            },
            "accepts client certificates without verifying them",
        ),
        (
            {"tls_server_config": {"cert_file": "x", "key_file": "y", "client_auth_type": "RequestClientCert"}},
            "without verifying",
        ),
        ({"tls_server_config": {"cert_file": "x", "key_file": "y", "client_auth_type": "Sometimes"}}, "must be one of"),
        (
            {
                "tls_server_config": {
                    "cert_file": "x",
                    "key_file": "y",
                    "client_auth_type": "RequireAndVerifyClientCert",
                }
            },
            "needs client_ca_file",
        ),
        (
            {"tls_server_config": {"cert_file": "x", "key_file": "y", "client_ca_file": "ca"}},
            "client_ca_file: a client CA is set but client_auth_type is NoClientCert",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "x",
                    "key_file": "y",
                    "client_auth_type": "VerifyClientCertIfGiven",
                    "client_ca_file": "ca",
                    "client_allowed_sans": ["a"],
                }
            },
            "client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert",
        ),
        (
            {"tls_server_config": {"cert_file": "x", "key_file": "y", "curve_preferences": ["X25519"]}},
            "curve_preferences: is not supported",
        ),
        (
            {"tls_server_config": {"cert": "PEM", "key_file": "y"}},
            "tls_server_config.cert: inline PEM is not supported",
        ),
        (
            {"tls_server_config": {"cert_file": "x", "key_file": "y", "ciphers": []}},
            "tls_server_config.ciphers: unknown key",
        ),
        ({"tls_config": {}}, "tls_config: unknown key; known keys: tls_server_config"),
        (
            {"http_server_config": {"headers": {"X-Powered-By": "me"}}},
            "http_server_config.headers.X-Powered-By: unknown key",
        ),
        (
            {"http_server_config": {"headers": {"X-Frame-Options": "allow"}}},
            "X-Frame-Options: must be one of deny, sameorigin",
        ),
        ({"http_server_config": {"headers": {"X-Content-Type-Options": "sniff"}}}, "must be one of nosniff"),
        ({"http_server_config": {"headers": {"Content-Security-Policy": "a\nb"}}}, "must be one line"),
        ({"http_server_config": {"http2": "yes"}}, "http2: must be true or false"),
        ({"basic_auth_users": {"alice": "plain-password"}}, "basic_auth_users.alice: is not a bcrypt hash"),
        ({"basic_auth_users": {"alice": bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode()}}, "bcrypt cost 4 is too low"),
        ({"basic_auth_users": ["alice"]}, "basic_auth_users: must be a mapping"),
        ({"rate_limit": {"burst": 1}}, "rate_limit: is not supported"),
    ],
)
def test_refused_with_the_key_named(tmp_path: Path, data, message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(WebConfigError) as info:
        load(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text, text
    assert "plain-password" not in text  # a password pasted where a hash belongs is never echoed


def test_file_problems(tmp_path: Path, pki) -> None:
    with pytest.raises(WebConfigError, match="no such file"):
        load(tmp_path / "missing.yml")
    with pytest.raises(WebConfigError, match="not valid YAML at line "):
        load(write(tmp_path, "tls_server_config: [\n"))
    ca, server = pki
    # A certificate with someone else's key.
    other = ca.issue("other")
    cfg = load(write(tmp_path, {"tls_server_config": {"cert_file": str(server.cert), "key_file": str(other.key)}}))
    with pytest.raises(WebConfigError, match="cannot use cert_file .* with key_file .*: key values mismatch"):
        ssl_context(tls_of(cfg))
    cfg = load(
        write(tmp_path, {"tls_server_config": {"cert_file": str(tmp_path / "nope.pem"), "key_file": str(server.key)}})
    )
    with pytest.raises(WebConfigError, match="tls_server_config.cert_file: cannot read"):
        ssl_context(tls_of(cfg))
    cfg = load(write(tmp_path, {"tls_server_config": tls_block(
        pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(server.key))}))
    with pytest.raises(WebConfigError, match="client_ca_file"):
        ssl_context(tls_of(cfg))


def test_encrypted_key_is_refused_without_prompting(tmp_path: Path, pki) -> None:
    _, server = pki
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(server.key.read_bytes(), None)
    locked = tmp_path / "locked.key"
    locked.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"pass")))
    cfg = load(write(tmp_path, {"tls_server_config": {"cert_file": str(server.cert), "key_file": str(locked)}}))
    with pytest.raises(WebConfigError, match="encrypted with a passphrase"):
        ssl_context(tls_of(cfg))


def test_default_ciphers_are_forward_secret_aead_only(tmp_path: Path, pki) -> None:
    cfg = load(write(tmp_path, {"tls_server_config": tls_block(pki)}))
    ctx = ssl_context(tls_of(cfg))
    tls12 = [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 and all(n.startswith("ECDHE-") and ("GCM" in n or "CHACHA20" in n) for n in tls12), tls12
    assert ctx.minimum_version.name == "TLSv1_2"


def basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_checks_and_caches() -> None:
    calls: list[bytes] = []

    def checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return bcrypt.checkpw(password, hashed)

    auth = BasicAuth({"prometheus": HASH_10.encode()}, checkpw=checkpw)
    assert auth.check(basic("prometheus", "scrape-secret")) == "prometheus"
    assert auth.check(basic("prometheus", "scrape-secret")) == "prometheus"
    assert len(calls) == 1  # the second scrape is answered from the cache
    assert auth.check(basic("prometheus", "wrong")) is None
    for header in (None, "", "Bearer x", "Basic !!!", basic("prometheus", "") , "Basic " + "cHJvbWV0aGV1cw=="):
        assert auth.check(header) is None


def test_unknown_user_costs_a_bcrypt_like_a_known_one() -> None:
    """Timing safety, structurally: an unknown name runs bcrypt on a dummy hash of the same cost."""
    seen: list[bytes] = []

    def checkpw(password: bytes, hashed: bytes) -> bool:
        seen.append(hashed)
        return bcrypt.checkpw(password, hashed)

    auth = BasicAuth({"prometheus": HASH_10.encode()}, checkpw=checkpw)
    assert auth.check(basic("mallory", "scrape-secret")) is None
    assert auth.check(basic("prometheus", "guess")) is None
    assert len(seen) == 2
    dummy, real = seen
    assert dummy != real and bcrypt_cost(dummy) == bcrypt_cost(real) == 10
    # Even if the dummy hash matched, an unknown user is never let in.
    always = BasicAuth({"prometheus": HASH_10.encode()}, checkpw=lambda p, h: True)
    assert always.check(basic("mallory", "anything")) is None


def test_bcrypt_cost_parser() -> None:
    assert bcrypt_cost(HASH_10.encode()) == 10
    assert bcrypt_cost(HASH_10.replace("$2b$", "$2y$").encode()) == 10
    assert bcrypt_cost(b"$1$abc") is None
    assert bcrypt_cost(HASH_10.encode()[:-1]) is None


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (make deps)")
@pytest.mark.parametrize("name", ["web-config.example.yml", "web-config-mtls.example.yml"])
def test_shipped_examples_pass_promtool_and_our_parser(tmp_path: Path, pki, name: str) -> None:
    """The examples, with their file paths pointed at real test files, satisfy both validators."""
    ca, server = pki
    data = yaml.safe_load((DEPLOY / name).read_text())
    tls = data["tls_server_config"]
    tls["cert_file"], tls["key_file"] = str(server.cert), str(server.key)
    if "client_ca_file" in tls:
        tls["client_ca_file"] = str(ca.cert)
    path = write(tmp_path, data)
    proc = subprocess.run(["promtool", "check", "web-config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cfg = load(path)
    ssl_context(tls_of(cfg))
    if "basic_auth_users" in data:
        # The example's hash is of the password its comment names.
        assert BasicAuth(cfg.users).check(basic("prometheus", "change-me")) == "prometheus"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (make deps)")
def test_promtool_and_we_agree_on_unknown_keys(tmp_path: Path, pki) -> None:
    path = write(tmp_path, {"tls_server_config": tls_block(pki, not_a_key=1)})
    proc = subprocess.run(["promtool", "check", "web-config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    with pytest.raises(WebConfigError, match="not_a_key: unknown key"):
        load(path)
