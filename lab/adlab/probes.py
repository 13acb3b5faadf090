"""Client-side checks against the lab, run from the client namespace as the exporter would see it."""

from __future__ import annotations

import re

from . import ldif
from .config import LabConfig
from .errors import LabError
from .proc import run


def dig(cfg: LabConfig, server_ip: str, name: str, rtype: str) -> tuple[str, list[str]]:
    """(status, answer data) of one non-recursive query to one lab DNS server."""
    cp = run(["dig", "+norecurse", "+time=2", "+tries=2", "+noall", "+comments", "+answer",
              f"@{server_ip}", name, rtype], netns=cfg.netns("client"), check=False, timeout=30,
             what=f"dig {name} {rtype} @{server_ip}")
    match = re.search(r"status: (\w+)", cp.stdout)
    if cp.returncode != 0 or not match:
        raise LabError(f"DNS server {server_ip} did not answer {name} {rtype}: {cp.stdout.strip()[-300:]}")
    answers = []
    for line in cp.stdout.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        parts = line.split()
        if len(parts) >= 5 and parts[3] == rtype:
            answers.append(" ".join(parts[4:]))
    return match.group(1), answers


def ldaps_search(cfg: LabConfig, server_ip: str, bind_upn: str, password_file: str, ca_file: str,
                 base: str, expression: str, attrs: list[str], scope: str = "sub") -> list[dict]:
    """ldapsearch over LDAPS, certificate and its IP SAN verified against the lab CA."""
    cp = run(["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=5", "-H", f"ldaps://{server_ip}",
              "-x", "-D", bind_upn, "-y", password_file, "-s", scope, "-b", base, expression, *attrs],
             netns=cfg.netns("client"), env={"LDAPTLS_CACERT": ca_file, "LDAPTLS_REQCERT": "demand"},
             timeout=30, what=f"ldapsearch over LDAPS to {server_ip} as {bind_upn}")
    return ldif.parse(cp.stdout)
