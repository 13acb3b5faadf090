"""``basic_auth_users``: checking an ``Authorization: Basic`` header against bcrypt hashes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

import bcrypt

from .settings import MIN_BCRYPT_COST, bcrypt_cost


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes without telling users apart by timing.

    An unknown user is checked against a dummy hash of the same cost, so a wrong name
    costs what a wrong password costs. bcrypt runs one at a time (it is CPU-bound). Results
    are remembered under an HMAC of (user, password, hash) with a per-process key, so a
    scraper that sends the same right credentials every 15 s costs one bcrypt, not one per
    scrape, and no password is kept in memory in a readable form.
    """

    def __init__(self, users: Mapping[str, bytes], cache_size: int = 256,
                 checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw) -> None:
        self._users = dict(users)
        cost = max((bcrypt_cost(h) or MIN_BCRYPT_COST for h in self._users.values()), default=MIN_BCRYPT_COST)
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost)) if self._users else b""
        self._checkpw = checkpw
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, header: str | None) -> str | None:
        """The authenticated user name, or None."""
        parsed = _parse_basic(header)
        if parsed is None:
            return None
        user, password = parsed
        known = self._users.get(user)
        hashed = known if known is not None else self._dummy
        key = hmac.new(self._key, b"\0".join((user.encode(), password, hashed)), hashlib.sha256).digest()
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            with self._bcrypt_lock:
                try:
                    cached = bool(self._checkpw(password, hashed))
                except ValueError:
                    cached = False
            with self._lock:
                self._cache[key] = cached
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        # Both conditions are evaluated whatever the first one says.
        ok = (known is not None) & cached
        return user if ok else None


def _parse_basic(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None
