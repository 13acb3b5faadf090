"""An open connection to one DC: rootDSE, reads by DN, and paged searches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Literal

import ldap3
from ldap3.core import exceptions as lx

from .entry import ROOT_DSE_ATTRIBUTES, Entry, RootDSE
from .errors import LdapError, describe
from .paging import PagingError, paged_search

Scope = Literal["base", "level", "subtree"]
_SCOPES = {"base": ldap3.BASE, "level": ldap3.LEVEL, "subtree": ldap3.SUBTREE}


class Connection:
    """An open (and usually bound) connection to one DC at one address."""

    def __init__(
        self,
        host: str,
        address: str,
        port: int,
        conn: ldap3.Connection,
        page_size: int,
        on_close: Callable[[Connection], None] | None = None,
    ) -> None:
        self.host = host
        self.address = address
        self.port = port
        self._conn = conn
        self._page_size = page_size
        self._on_close = on_close

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._conn.unbind()
        except Exception:  # noqa: BLE001 - closing a broken socket must not mask the real error
            pass
        if self._on_close is not None:
            self._on_close(self)

    def root_dse(self, attributes: Iterable[str] = ROOT_DSE_ATTRIBUTES) -> RootDSE:
        entry = self.read("", attributes)
        if entry is None:
            raise LdapError(self.host, "the rootDSE returned no entry")
        return RootDSE.from_entry(entry)

    def read(self, dn: str, attributes: Iterable[str], filter_: str = "(objectClass=*)") -> Entry | None:
        """One object by DN, or None if it does not exist."""
        try:
            for entry in self.search(dn, filter_, attributes, scope="base", page_size=0):
                return entry
        except LdapError as exc:
            if "noSuchObject" in exc.reason:
                return None
            raise
        return None

    def search(
        self,
        base: str,
        filter_: str,
        attributes: Iterable[str],
        scope: Scope = "subtree",
        page_size: int | None = None,
    ) -> Iterator[Entry]:
        """Stream entries; paged (RFC 2696) unless page_size is 0. Referrals are skipped."""
        size = self._page_size if page_size is None else page_size
        attrs = list(attributes)
        if size:
            # Pipelined: the next page is requested before this one is decoded (see .paging).
            try:
                for dn, values in paged_search(self._conn, base, filter_, attrs, _SCOPES[scope], size):
                    yield Entry(dn=dn, attributes=values)
            except PagingError as exc:
                raise LdapError(self.host, f"search of {base or 'the rootDSE'} failed: {exc}") from None
            return
        try:
            self._conn.search(base, filter_, _SCOPES[scope], attributes=attrs)
        except lx.LDAPException as exc:
            raise LdapError(self.host, f"search of {base or 'the rootDSE'} failed: {describe(exc)}") from None
        for item in self._conn.response or ():
            if item.get("type") == "searchResEntry":
                raw = item.get("raw_attributes") or {}
                yield Entry(dn=item.get("dn", ""), attributes={k.lower(): list(v) for k, v in raw.items()})


