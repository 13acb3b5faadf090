"""The Kerberos probe of one KDC, in a process of its own: ``python <this file>``.

It reads one JSON request on stdin (realm, the DC's address, the principal and its password or
keytab path, the SPNs) and writes JSON lines on stdout: one for the AS exchange, then one per SPN,
each as soon as it is known, so a run that is stopped part-way still tells what it saw. A line
holds codes, messages, key versions and enctypes: never a ticket, a key or the password.

Why a process per KDC rather than threads: MIT krb5 takes its configuration (which KDC to ask)
from ``KRB5_CONFIG`` when a context is created, and gssapi creates a context on each call, so
pointing two threads at two KDCs would mean changing the environment of a threaded process. Here
each process has one KDC, set before the library loads; a KDC that hangs is bounded by killing
the process, and a crash of the C library costs one DC's probe, never the exporter.

The krb5 profile lives in a memfd (``/proc/self/fd/N``), the credential cache in ``MEMORY:``:
nothing is written to disk, which also works in a read-only container.

It is started by its path, not with ``-m``: a module of the package would import the whole check
(and ldap3) first, which costs seconds on a loaded host. So its imports are absolute and light, and
its first line, "ready", tells the parent when the time of the KDC starts to count.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from typing import Any

from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.kerberos_ticket import decode_ticket

KRB5_MISSING = (
    "the Python krb5 package is not installed: pip install 'ad-health-exporter[kerberos]' "
    "(it builds against MIT krb5: apt install libkrb5-dev)"
)
GSSAPI_MISSING = (
    "the Python gssapi package is not installed: pip install 'ad-health-exporter[kerberos]' "
    "(Debian: apt install python3-gssapi)"
)

# AES only: AD's two AES enctypes; RC4 and DES are never asked for.
ENCTYPES = "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"
_AES = (18, 17)
# A short TGT: it lives for one probe only, in this process's memory.
_TGT_LIFETIME = 600
# MIT's codes for "no KDC answer": KRB5_KDC_UNREACH, KRB5_REALM_CANT_RESOLVE, and the errnos of a
# refused, unreachable or silent peer. Any other code that is not the KDC's own is the library's.
NO_ANSWER = frozenset({-1765328228, -1765328164, 101, 110, 111, 113})


def profile(realm: str, kdcs: list[str], request_timeout: int) -> str:
    """A krb5.conf naming one DC's KDC as the realm's only one: no DNS, no reverse lookups, TCP."""
    kdc_lines = "".join(f"        kdc = {_host_port(a)}\n" for a in kdcs)
    return (
        "[libdefaults]\n"
        f"    default_realm = {realm}\n"
        "    dns_lookup_kdc = false\n"
        "    dns_lookup_realm = false\n"
        "    dns_canonicalize_hostname = false\n"
        "    rdns = false\n"
        # AD's tickets carry a PAC and rarely fit a UDP datagram: TCP from the first request.
        "    udp_preference_limit = 1\n"
        # Honoured by MIT krb5 1.21 and later; on older versions the parent's kill is the bound.
        f"    request_timeout = {request_timeout}\n"
        f"    permitted_enctypes = {ENCTYPES}\n"
        f"    default_tkt_enctypes = {ENCTYPES}\n"
        f"    default_tgs_enctypes = {ENCTYPES}\n"
        "[realms]\n"
        f"    {realm} = {{\n{kdc_lines}    }}\n"
    )


def _host_port(address: str) -> str:
    return f"[{address}]:88" if ":" in address else f"{address}:88"


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "err_code", None)
    if code is None:
        code = getattr(exc, "min_code", None) or None
    if isinstance(code, int) and code >= 2**31:
        code -= 2**32
    return code if isinstance(code, int) else None


def _message(exc: BaseException) -> str:
    """The library's own words, without GSSAPI's major-status preamble."""
    text = str(exc).strip()
    if "Minor (" in text:
        text = text.rsplit("):", 1)[-1].strip()
    # pykrb5 appends the numeric code, which travels in its own field.
    text = re.sub(r"\s+-?\d+$", "", text)
    return text[:300] or type(exc).__name__


def _configure(request: dict[str, Any]) -> None:
    # Before krb5 loads: nothing of the exporter's own Kerberos environment (a bind's ccache,
    # a trace file that could record session keys) may leak into the probe.
    for name in [n for n in os.environ if n.startswith("KRB5")]:
        del os.environ[name]
    fd = os.memfd_create("krb5.conf")
    os.write(fd, profile(request["realm"], request["kdcs"], int(request["request_timeout"])).encode())
    os.environ["KRB5_CONFIG"] = f"/proc/self/fd/{fd}"
    os.environ["KRB5CCNAME"] = f"MEMORY:ad-health-{uuid.uuid4().hex}"


def probe(request: dict[str, Any]) -> None:
    try:
        import krb5
    except ImportError:
        _emit({"kind": "fatal", "message": KRB5_MISSING})
        return
    try:
        import gssapi
    except ImportError:
        _emit({"kind": "fatal", "message": GSSAPI_MISSING})
        return
    _emit({"kind": "ready"})
    realm: str = request["realm"]
    ctx = krb5.init_context()
    opt = krb5.get_init_creds_opt_alloc(ctx)
    krb5.get_init_creds_opt_set_etype_list(opt, list(_AES))
    krb5.get_init_creds_opt_set_tkt_life(opt, _TGT_LIFETIME)
    krb5.get_init_creds_opt_set_forwardable(opt, False)
    krb5.get_init_creds_opt_set_proxiable(opt, False)
    if request["enterprise"]:
        # A UPN: the KDC maps it to the account (its prefix need not be the sAMAccountName).
        client = krb5.parse_name_flags(ctx, f"{request['principal']}@{realm}".encode(),
                                       krb5.PrincipalParseFlags.enterprise)
        krb5.get_init_creds_opt_set_canonicalize(opt, True)
    else:
        client = krb5.parse_name_flags(ctx, request["principal"].encode())
    started = time.monotonic()
    try:
        if request.get("keytab"):
            keytab = krb5.kt_resolve(ctx, f"FILE:{request['keytab']}".encode())
            tgt = krb5.get_init_creds_keytab(ctx, client, opt, keytab)
        else:
            tgt = krb5.get_init_creds_password(ctx, client, opt, password=request["password"].encode())
    except krb5.Krb5Error as exc:
        _emit({"kind": "as", "code": _code(exc), "message": _message(exc), "seconds": time.monotonic() - started})
        return
    _emit({"kind": "as", "code": 0, "seconds": time.monotonic() - started})
    cache_name = f"MEMORY:probe-{uuid.uuid4().hex}".encode()
    cache = krb5.cc_resolve(ctx, cache_name)
    try:
        krb5.cc_initialize(ctx, cache, tgt.client)
        krb5.cc_store_cred(ctx, cache, tgt)
        del tgt
        creds = gssapi.Credentials(usage="initiate", store={b"ccache": cache_name})
        stopped: str | None = None
        for spn in request["spns"]:
            if stopped is not None:
                _emit({"kind": "ticket", "spn": spn, "code": None, "message": stopped})
                continue
            line = _service_ticket(gssapi, krb5, ctx, cache, creds, spn, realm)
            _emit(line)
            code = line.get("code")
            if code in NO_ANSWER:
                stopped = f"not asked: the KDC stopped answering ({line.get('message')})"
    finally:
        krb5.cc_destroy(ctx, cache)


def _service_ticket(gssapi: Any, krb5: Any, ctx: Any, cache: Any, creds: Any, spn: str, realm: str) -> dict[str, Any]:
    """One TGS exchange through GSS-API, then the ticket's envelope read back from the cache."""
    wanted = f"{spn}@{realm}"
    try:
        name = gssapi.Name(wanted, gssapi.NameType.kerberos_principal)
        # The AP-REQ token step() returns holds the ticket: it is dropped at once, never kept.
        gssapi.SecurityContext(name=name, creds=creds, usage="initiate", mech=gssapi.MechType.kerberos).step()
    except gssapi.exceptions.GSSError as exc:
        return {"kind": "ticket", "spn": spn, "code": _code(exc), "message": _message(exc)}
    for cred in cache:
        server = krb5.unparse_name_flags(ctx, cred.server).decode(errors="replace")
        if server.lower() != wanted.lower():
            continue
        try:
            ticket = decode_ticket(cred.ticket)
        except DecodeError as exc:
            return {"kind": "ticket", "spn": spn, "code": 0, "message": f"unreadable ticket envelope: {exc}"}
        return {"kind": "ticket", "spn": spn, "code": 0, "kvno": ticket.kvno, "etype": ticket.etype}
    return {"kind": "ticket", "spn": spn, "code": 0, "message": "issued, but not found in the credential cache"}


def main() -> int:
    try:
        request = json.loads(sys.stdin.read())
        if not isinstance(request, dict):
            raise ValueError
    except ValueError:
        # Never echo the request: it holds the password.
        _emit({"kind": "fatal", "message": "the probe's request is not a JSON object"})
        return 2
    try:
        _configure(request)
        probe(request)
    except OSError as exc:
        _emit({"kind": "fatal", "message": f"{type(exc).__name__}: {exc.strerror or 'failed'}"})
        return 1
    except Exception as exc:  # noqa: BLE001 - one line instead of a traceback
        # The Kerberos libraries' own messages name codes and principals; anything else is named by
        # its type only, since its text could quote a value.
        library = type(exc).__name__ in ("Krb5Error", "GSSError", "MissingMechanism")
        detail = f": {_message(exc)}" if library else " in the Kerberos probe"
        _emit({"kind": "fatal", "message": f"{type(exc).__name__}{detail}"})
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
