"""The web configuration in force, picked up again when its files change.

Like the Go exporters, which re-read the file for every connection, a change is picked up
without a restart. The files are checked (stat) when a connection is accepted, and re-read
only when one of them changed; a new file that does not load is logged once and the last
good one stays in force, so a half-written certificate never takes the endpoint down.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from .basic_auth import BasicAuth
from .settings import WebConfig, WebConfigError, load
from .tls import ssl_context

log = logging.getLogger(__name__)

# Per file: (path, inode, size, mtime in ns), or -1s for a file that cannot be stat'ed.
Signature = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True)
class Active:
    """One loaded web configuration with what serving it needs."""

    config: WebConfig
    context: ssl.SSLContext | None
    auth: BasicAuth


def activate(config: WebConfig) -> Active:
    if config.users and config.tls is None:
        log.warning(
            "basic_auth_users without tls_server_config: passwords cross the network in clear text",
            extra={"file": str(config.source)},
        )
    context = ssl_context(config.tls) if config.tls is not None else None
    return Active(config, context, BasicAuth(config.users))


def _signature(paths: tuple[Path, ...]) -> Signature:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((str(p), st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), -1, -1, -1))
    return tuple(out)


class WebConfigSource:
    """The web configuration in force, re-read when its files change (or on ``reload()``)."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        if self.path is None:
            self._active = activate(WebConfig())
        else:
            self._active = activate(load(self.path))  # errors at start-up stop the exporter
        self._signature: Signature = self._current_signature(self._active.config)
        self._failed_signature: Signature | None = None

    @property
    def tls(self) -> bool:
        """Whether the endpoint serves TLS: fixed at start, a reload cannot switch it on or off."""
        return self._active.context is not None

    def active(self) -> Active:
        with self._lock:
            return self._active

    def _current_signature(self, config: WebConfig | None) -> Signature:
        if self.path is None:
            return ()
        files = (self.path,) + (config.tls.files() if config is not None and config.tls is not None else ())
        return _signature(files)

    def refresh(self) -> Active:
        """Re-read the files if they changed since the last look; the active configuration."""
        if self.path is None:
            return self._active
        with self._lock:
            signature = self._current_signature(self._active.config)
            if signature == self._signature or signature == self._failed_signature:
                return self._active
        return self.reload(signature)

    def reload(self, signature: Signature | None = None) -> Active:
        """Re-read now; on error keep the active configuration and log why (once per change)."""
        if self.path is None:
            return self._active
        if signature is None:
            with self._lock:
                signature = self._current_signature(self._active.config)
        try:
            config = load(self.path)
            if (config.tls is None) != (self._active.context is None):
                raise WebConfigError(f"{self.path}: switching TLS on or off needs a restart")
            new = activate(config)
        except (ConfigError, ssl.SSLError, OSError) as exc:
            with self._lock:
                first = signature != self._failed_signature
                self._failed_signature = signature
            if first:
                log.error("web configuration not reloaded; keeping the previous one", extra={"reason": str(exc)})
            return self.active()
        with self._lock:
            changed = new.config != self._active.config or signature != self._signature
            self._active = new
            self._signature = self._current_signature(config)
            self._failed_signature = None
        if changed:
            log.info("web configuration reloaded", extra={"file": str(self.path), "tls": new.context is not None,
                                                          "basic_auth_users": len(new.config.users)})
        return new
