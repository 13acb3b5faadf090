"""A pipelined paged search (RFC 2696) over an open ldap3 connection.

ldap3's own paged search asks for the next page only after it has decoded the whole current
one, so the DC idles while Python decodes and the scan takes server time plus client time.
Here the request for page n+1 goes out as soon as page n's SearchResultDone (and its cookie)
has arrived, before page n is decoded: the DC computes the next page while this side decodes,
and the two overlap. Requests are still built and sent by ldap3 (filter syntax, controls);
responses are read from the socket and decoded by :mod:`.ber`.

Only one page is in flight at a time, so memory is bounded by two pages of raw messages.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Sequence

import ldap3
from ldap3.core import exceptions as lx
from ldap3.core.results import RESULT_CODES
from ldap3.operation.search import search_operation
from ldap3.protocol.rfc2696 import paged_search_control

from . import ber

_RECV_SIZE = 256 * 1024
_NO_ATTRIBUTES = "1.1"
_REFERRAL = 10
_COMPACT_AFTER = 1 << 20  # drop consumed bytes from the receive buffer beyond this offset


class PagingError(Exception):
    """The search failed; str() says why (result code name and the DC's message, or the socket problem)."""

    def __init__(self, reason: str, result_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result_code = result_code


def result_name(code: int) -> str:
    return RESULT_CODES.get(code, f"result {code}")


class _Reader:
    """Cuts the byte stream of one connection into LDAPMessages."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._pos = 0

    def next_message(self) -> bytes:
        while True:
            end = ber.frame_end(self._buffer, self._pos)
            if end is not None:
                message = bytes(self._buffer[self._pos:end])
                self._pos = end
                if self._pos == len(self._buffer):
                    self._buffer.clear()
                    self._pos = 0
                elif self._pos > _COMPACT_AFTER:
                    del self._buffer[:self._pos]
                    self._pos = 0
                return message
            try:
                data = self._sock.recv(_RECV_SIZE)
            except TimeoutError:
                raise PagingError("no answer within the receive timeout") from None
            except (OSError, ssl.SSLError) as exc:
                raise PagingError(f"connection lost: {exc.strerror or exc}") from None  # an SSLError is an OSError
            if not data:
                raise PagingError("the DC closed the connection")
            self._buffer += data

    @property
    def pending(self) -> int:
        return len(self._buffer) - self._pos


class _Search:
    """One paged search on one ldap3 connection: sends page requests, reads their responses."""

    def __init__(self, conn: ldap3.Connection, base: str, filter_: str, attributes: Sequence[str],
                 scope: str, page_size: int) -> None:
        self._conn = conn
        try:
            self._request = search_operation(
                base, filter_, scope, ldap3.DEREF_ALWAYS, list(attributes) or [_NO_ATTRIBUTES], 0, 0, False,
                conn.auto_escape, conn.auto_encode, None, validator=None, check_names=False,
            )
        except lx.LDAPException as exc:
            raise PagingError(f"invalid search: {exc}") from None
        self._page_size = page_size
        sock = conn.socket
        if sock is None or conn.closed:
            raise PagingError("the connection is not open")
        self._reader = _Reader(sock)
        self.in_flight: int | None = None

    def send(self, cookie: bytes | None, size: int | None = None) -> None:
        control = paged_search_control(False, self._page_size if size is None else size, cookie)
        try:
            self.in_flight = self._conn.strategy.send("searchRequest", self._request, [control])
        except lx.LDAPException as exc:
            raise PagingError(f"cannot send the search request: {exc}") from None

    def read_page(self) -> tuple[list[bytes], ber.SearchDone]:
        """Raw SearchResultEntry messages of the page in flight, and its SearchResultDone."""
        expected = self.in_flight
        entries: list[bytes] = []
        while True:
            message = self._reader.next_message()
            try:
                message_id, op, _, _ = ber.header(message)
            except ber.BerError as exc:
                raise PagingError(f"undecodable response: {exc}") from None
            if message_id != expected:
                if message_id == 0 and op == ber.OP_EXTENDED_RESPONSE:
                    notice = ber.decode_extended(message)
                    raise PagingError(
                        f"the DC ended the session: {result_name(notice.result_code)}: {notice.diagnostic}",
                        notice.result_code,
                    )
                raise PagingError(f"response to message {message_id} while waiting for {expected}")
            if op == ber.OP_SEARCH_ENTRY:
                entries.append(message)
            elif op == ber.OP_SEARCH_DONE:
                try:
                    done = ber.decode_done(message)
                except ber.BerError as exc:
                    raise PagingError(f"undecodable SearchResultDone: {exc}") from None
                self._conn.strategy._outstanding.pop(expected, None)
                self.in_flight = None
                return entries, done
            elif op != ber.OP_SEARCH_REFERENCE:  # continuation references are skipped, like referrals
                raise PagingError(f"unexpected protocolOp 0x{op:02x} in a search response")

    def abandon(self) -> None:
        """Leave the connection usable after the caller stopped early: drain the page in flight
        and tell the DC to drop the search's state (a page request of size 0)."""
        if self.in_flight is None:
            return
        _, done = self.read_page()
        if done.cookie:
            self.send(done.cookie, size=0)
            self.read_page()


def paged_search(
    conn: ldap3.Connection,
    base: str,
    filter_: str,
    attributes: Sequence[str],
    scope: str = ldap3.SUBTREE,
    page_size: int = 1000,
) -> Iterator[tuple[str, dict[str, list[bytes]]]]:
    """Stream (DN, {lower-cased attribute: [raw values]}) for every entry, pipelining the pages.

    Raises PagingError when the DC answers with an error (a size or time limit too: the result
    would be incomplete), the connection fails, or a response cannot be decoded. A referral
    (the DC does not hold the base) ends the search without entries. If the caller stops early,
    the page in flight is drained so the connection stays usable; if even that fails, the
    connection is closed.
    """
    if page_size <= 0:
        raise ValueError("page_size must be positive")
    search = _Search(conn, base, filter_, attributes, scope, page_size)
    search.send(None)
    finished = False
    try:
        while True:
            raw_entries, done = search.read_page()
            if done.result_code == _REFERRAL:
                # The DC does not hold the base: nothing here, as with ldap3 without auto_referrals.
                finished = True
                return
            if done.result_code != 0:
                # Including sizeLimitExceeded and timeLimitExceeded, which ldap3 passes silently:
                # a truncated scan must not look like a complete one.
                reason = result_name(done.result_code)
                if done.diagnostic:
                    reason += f": {done.diagnostic}"
                raise PagingError(reason, done.result_code)
            if done.cookie:
                # The point of this module: the DC works on the next page while this one is decoded.
                search.send(done.cookie)
            for message in raw_entries:
                try:
                    yield ber.decode_entry(message)
                except ber.BerError as exc:
                    raise PagingError(f"undecodable entry: {exc}") from None
            if not done.cookie:
                finished = True
                return
    finally:
        if not finished and search.in_flight is not None:
            try:
                search.abandon()
            except PagingError:
                try:
                    conn.unbind()
                except Exception:  # noqa: BLE001 - the connection is already broken
                    pass
