"""One scriptable fake of what the checks may ask of a domain's directory.

``FakeDirectory`` is a ``DirectoryAccess`` and its ``FakeConnection``s are ``DcConnection``s
(``checks/base.py``). Each DC is a ``FakeDc``: what its searches find, what a read by DN finds,
its rootDSE, and how it fails. Every connect, search and read is recorded, so a test can assert
what a check asked for as well as what it made of the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ad_health_exporter.ldap import Entry, LdapError, RootDSE, Scope

from .resolver import StaticResolver

# What connect() raises: an exception, or a function that returns one (after blocking, say,
# to play a DC that never answers).
Fault = BaseException | Callable[[], BaseException]


@dataclass(frozen=True)
class Connect:
    host: str
    bind: bool
    port: int | None
    address: str | None
    timeout: float | None


@dataclass(frozen=True)
class Search:
    host: str
    port: int | None
    base: str
    filter_: str
    attributes: tuple[str, ...]
    scope: Scope


@dataclass(frozen=True)
class Read:
    host: str
    dn: str
    attributes: tuple[str, ...]


@dataclass
class FakeDc:
    """One DC as the fake serves it. Mutable, so a test can break a DC half-way."""

    # What a search finds: the entries under its base (and scope), whatever its filter...
    entries: Sequence[Entry] = ()
    # ...unless its exact filter string is a key here: then it finds those (still limited to base and
    # scope), or fails with that error. The fake does not evaluate filters: a test says what each
    # search it cares about returns.
    answers: Mapping[str, Sequence[Entry] | LdapError] = field(default_factory=dict)
    objects: Mapping[str, Entry] = field(default_factory=dict)  # what read() finds, by DN
    # A fixed rootDSE, or a function called on each read of it (a clock that moves, a DC that hangs).
    root: RootDSE | Callable[[], RootDSE] | None = None
    address: str = "127.0.0.1"  # the address connections to it report, unless connect() names one
    search_failure: str | None = None  # the reason every search and read fails with, if any
    absent_bases: Collection[str] = ()  # partitions this DC does not hold: searches there fail noSuchObject


@dataclass
class FakeDirectory:
    dcs: dict[str, FakeDc] = field(default_factory=dict)  # by host name
    # Raised by connect() to a host, or to an address of it (checked first: one stale address of a
    # DC that is up); a host in neither mapping cannot be found at all.
    faults: dict[str, Fault] = field(default_factory=dict)
    resolver: StaticResolver = field(default_factory=StaticResolver)
    connects: list[Connect] = field(default_factory=list)
    searches: list[Search] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)

    def connect(
        self,
        host: str,
        *,
        bind: bool = True,
        port: int | None = None,
        address: str | None = None,
        timeout: float | None = None,
    ) -> FakeConnection:
        self.connects.append(Connect(host, bind, port, address, timeout))
        for key in (address, host):
            fault = self.faults.get(key) if key is not None else None
            if fault is not None:
                raise fault if isinstance(fault, BaseException) else fault()
        dc = self.dcs.get(host)
        if dc is None:
            raise LdapError(host, "cannot find its address: not a DC of the fake directory")
        return FakeConnection(self, dc, host, address or dc.address, port)


@dataclass
class FakeConnection:
    directory: FakeDirectory = field(repr=False)
    dc: FakeDc = field(repr=False)
    host: str
    address: str
    port: int | None = None
    closed: bool = False

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True

    def root_dse(self, attributes: Iterable[str] = ()) -> RootDSE:
        root = self.dc.root
        if root is None:
            raise LdapError(self.host, "the rootDSE returned no entry")
        return root if isinstance(root, RootDSE) else root()

    def read(self, dn: str, attributes: Iterable[str], filter_: str = "(objectClass=*)") -> Entry | None:
        self.directory.reads.append(Read(self.host, dn, tuple(attributes)))
        if self.dc.search_failure is not None:
            raise LdapError(self.host, self.dc.search_failure)
        return next((e for key, e in self.dc.objects.items() if _same(key, dn)), None)

    def search(
        self, base: str, filter_: str, attributes: Iterable[str], scope: Scope = "subtree", page_size: int | None = None
    ) -> Iterator[Entry]:
        self.directory.searches.append(Search(self.host, self.port, base, filter_, tuple(attributes), scope))
        return self._found(base, filter_, scope)

    def _found(self, base: str, filter_: str, scope: Scope) -> Iterator[Entry]:
        # A generator, as the real paged search is: a failure shows when the entries are read.
        if self.dc.search_failure is not None:
            raise LdapError(self.host, self.dc.search_failure)
        if any(_within(base, absent) for absent in self.dc.absent_bases):
            raise LdapError(self.host, f"search of {base} failed: noSuchObject")
        pool = self.dc.answers.get(filter_, self.dc.entries)
        if isinstance(pool, LdapError):
            raise pool
        yield from (e for e in pool if _in_scope(e.dn, base, scope))


def root_dse(**attributes: str | Sequence[str]) -> RootDSE:
    """A rootDSE from attribute values by name: ``root_dse(dnsHostName="dc1.lab.example")``."""
    values = {name.lower(): [v] if isinstance(v, str) else list(v) for name, v in attributes.items()}
    return RootDSE.from_entry(Entry("", {name: [v.encode() for v in vs] for name, vs in values.items()}))


# DNs are compared case-insensitively and split at every comma: the tests' DNs escape none.


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _within(dn: str, base: str) -> bool:
    return not base or _same(dn, base) or dn.casefold().endswith("," + base.casefold())


def _in_scope(dn: str, base: str, scope: Scope) -> bool:
    if scope == "base":
        return _same(dn, base)
    if scope == "level":
        return _same(dn.partition(",")[2], base)
    return _within(dn, base)
