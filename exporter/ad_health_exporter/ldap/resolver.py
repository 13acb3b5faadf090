"""Name resolution for AD names, through the DNS servers the configuration names.

The exporter never hands an AD host name to the operating system's resolver when DNS
servers are configured: ldap3 is always given an IP address, and the name only travels
in TLS (SNI and certificate check).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver


class ResolveError(Exception):
    """A name could not be resolved; the message names the name and the servers asked."""


@dataclass(frozen=True)
class SrvTarget:
    target: str  # lower case, no trailing dot
    port: int
    priority: int
    weight: int


class Resolver:
    def __init__(self, servers: tuple[str, ...] = (), timeout: float = 2.0) -> None:
        self.servers = servers
        self._timeout = timeout

    def _resolver(self, servers: tuple[str, ...] | None = None) -> dns.resolver.Resolver:
        use = self.servers if servers is None else servers
        if use:
            r = dns.resolver.Resolver(configure=False)
            r.nameservers = list(use)
        else:
            r = dns.resolver.Resolver()
        r.timeout = self._timeout
        r.lifetime = self._timeout * max(1, len(r.nameservers))
        return r

    def _where(self, servers: tuple[str, ...] | None) -> str:
        use = self.servers if servers is None else servers
        return f"DNS servers {', '.join(use)}" if use else "the system resolver"

    def _query(self, name: str, rdtype: str, servers: tuple[str, ...] | None) -> dns.resolver.Answer | None:
        try:
            return self._resolver(servers).resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        except dns.resolver.NoNameservers as exc:
            raise ResolveError(
                f"{name} {rdtype}: no DNS server answered ({self._where(servers)}): {_short(exc)}"
            ) from None
        except dns.exception.Timeout:
            raise ResolveError(f"{name} {rdtype}: timed out asking {self._where(servers)}") from None
        except dns.exception.DNSException as exc:
            raise ResolveError(f"{name} {rdtype}: {_short(exc)} ({self._where(servers)})") from None

    def addresses(self, name: str, servers: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """All A then AAAA addresses of ``name``; an IP literal is returned as it is."""
        try:
            return (str(ipaddress.ip_address(name)),)
        except ValueError:
            pass
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            answer = self._query(name, rdtype, servers)
            if answer is not None:
                found.extend(r.address for r in answer if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))
        return tuple(dict.fromkeys(found))

    def srv(self, name: str, servers: tuple[str, ...] | None = None) -> tuple[SrvTarget, ...] | None:
        """SRV targets of ``name``; None when the name does not exist."""
        answer = self._query(name, "SRV", servers)
        if answer is None:
            return None
        return tuple(
            SrvTarget(
                target=r.target.to_text(omit_final_dot=True).lower(),
                port=r.port,
                priority=r.priority,
                weight=r.weight,
            )
            for r in answer
            if r.rdtype == dns.rdatatype.SRV
        )

    def cname(self, name: str, servers: tuple[str, ...] | None = None) -> str | None:
        answer = self._query(name, "CNAME", servers)
        if answer is None:
            return None
        for r in answer:
            if r.rdtype == dns.rdatatype.CNAME:
                return r.target.to_text(omit_final_dot=True).lower()
        return None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
