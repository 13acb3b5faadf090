"""DNS for unit tests: resolvers that answer from tables and never send a packet."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ad_health_exporter.ldap.resolver import ResolveError, Resolver, SrvTarget


@dataclass(frozen=True)
class DnsAnswers:
    """What one DNS server answers. A name it has no records for does not exist (NXDOMAIN)."""

    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # A and AAAA
    srv: Mapping[str, tuple[SrvTarget, ...]] = field(default_factory=dict)
    cnames: Mapping[str, str] = field(default_factory=dict)
    refuses: bool = False  # answers REFUSED to every question
    silent: bool = False  # never answers: every question costs the resolver's timeout


class Question(NamedTuple):
    server: str  # "" for a resolver without servers of its own
    kind: str  # A, SRV or CNAME
    name: str


class StaticResolver(Resolver):
    """A ``Resolver`` whose answers come from ``DnsAnswers``.

    A subclass, not a look-alike, because ``ldap.Directory`` and ``DirectoryAccess.resolver``
    ask for that class; every public method is replaced, so the network is never used.
    """

    def __init__(
        self,
        answers: DnsAnswers | None = None,
        servers: tuple[str, ...] = (),
        timeout: float = 2.0,
        asked: list[Question] | None = None,
    ) -> None:
        super().__init__(servers, timeout)
        self.answers = answers or DnsAnswers()
        self.timeout = timeout
        self.asked: list[Question] = [] if asked is None else asked

    def _ask(self, kind: str, name: str) -> None:
        self.asked.append(Question(self.servers[0] if self.servers else "", kind, name))
        if self.answers.silent:
            time.sleep(self.timeout)
            raise ResolveError(f"{name} {kind}: timed out asking {self._where(None)}")
        if self.answers.refuses:
            raise ResolveError(f"{name} {kind}: no DNS server answered ({self._where(None)}): REFUSED")

    def addresses(self, name: str, servers: tuple[str, ...] | None = None) -> tuple[str, ...]:
        try:
            return (str(ipaddress.ip_address(name)),)  # an IP literal, as the real resolver does
        except ValueError:
            pass
        self._ask("A", name)
        return self.answers.addresses.get(name, ())

    def srv(self, name: str, servers: tuple[str, ...] | None = None) -> tuple[SrvTarget, ...] | None:
        self._ask("SRV", name)
        return self.answers.srv.get(name)

    def cname(self, name: str, servers: tuple[str, ...] | None = None) -> str | None:
        self._ask("CNAME", name)
        return self.answers.cnames.get(name)


class DnsServers:
    """Stands in for the ``Resolver`` class where a check makes one resolver per DNS server
    (``Resolver((server,), timeout=...)``): each server answers from its own table."""

    def __init__(self, servers: Mapping[str, DnsAnswers]) -> None:
        self.servers = dict(servers)
        self.asked: list[Question] = []  # by every server, in the order asked

    def __call__(self, servers: tuple[str, ...] = (), timeout: float = 2.0) -> StaticResolver:
        (server,) = servers
        return StaticResolver(self.servers[server], (server,), timeout, asked=self.asked)
