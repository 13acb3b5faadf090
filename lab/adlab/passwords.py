"""Random passwords and the files that hold them (0600, no trailing newline)."""

from __future__ import annotations

import base64
import os
import secrets
import string
from pathlib import Path

# Safe in smb.conf-style auth files, LDIF and argv; no '%' (user%password splitting) or '\'.
_SYMBOLS = "-_.+=:"
_ALPHABET = string.ascii_letters + string.digits + _SYMBOLS


def generate(length: int = 24) -> str:
    """A password that meets AD complexity: upper, lower, digit and symbol, random order."""
    rng = secrets.SystemRandom()
    chars = [rng.choice(string.ascii_uppercase), rng.choice(string.ascii_lowercase),
             rng.choice(string.digits), rng.choice(_SYMBOLS)]
    chars += [rng.choice(_ALPHABET) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def write_private(path: Path, content: str) -> Path:
    """Create path readable by root only; the mode is set before any secret is written."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    return path


def write_password(path: Path, password: str) -> Path:
    # No newline: `ldapsearch -y` and ldap3 readers take the file content as the password.
    return write_private(path, password)


def unicode_pwd(password: str) -> str:
    """The LDIF base64 value of unicodePwd: the quoted password in UTF-16LE."""
    return base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode()
