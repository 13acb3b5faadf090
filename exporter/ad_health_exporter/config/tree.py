"""The YAML tree of a configuration file, each value with its key path, for one-line errors.

Both configuration files (the exporter's and the web configuration) are read through
:class:`Node`, so every message names the key (``domains[0].tls.mode``) and never
echoes a secret.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$", re.I
)


class ConfigError(Exception):
    """A configuration problem; str() is one line naming where and what."""


class Node:
    """A value in the YAML tree together with its key path, for messages."""

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {problem}")

    def mapping(self, allowed: Iterable[str]) -> dict[str, Node]:
        if not isinstance(self.value, dict):
            raise self.fail(f"must be a mapping, got {kind(self.value)}")
        allowed = tuple(allowed)
        out: dict[str, Node] = {}
        for key, value in self.value.items():
            if not isinstance(key, str):
                raise self.fail(f"keys must be strings, got {kind(key)} {key!r}")
            if key not in allowed:
                hint = f"; known keys: {', '.join(allowed)}" if allowed else ""
                raise ConfigError(f"{self._child(key)}: unknown key{hint}")
            out[key] = Node(value, self._child(key))
        return out

    def items(self) -> list[Node]:
        if not isinstance(self.value, list):
            raise self.fail(f"must be a list, got {kind(self.value)}")
        return [Node(v, f"{self.path}[{i}]") for i, v in enumerate(self.value)]

    def string(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.fail(f"must be a non-empty string, got {kind(self.value)}")
        return self.value.strip()

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail(f"must be true or false, got {kind(self.value)}")
        return self.value

    def integer(self, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail(f"must be a whole number, got {kind(self.value)}")
        _bounds(self, self.value, minimum, maximum)
        return self.value

    def duration(self, minimum: float = 0.0) -> float:
        """Seconds, from a number or a Go-style duration string such as '90s', '5m', '1h30m'."""
        value = self.value
        if isinstance(value, bool):
            raise self.fail(f"must be a duration such as 30s, 5m or 1h, got {kind(value)}")
        if isinstance(value, (int, float)):
            seconds = float(value)
        elif isinstance(value, str) and _DURATION.match(value.strip()):
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value.strip()))
        else:
            raise self.fail(f"must be a duration such as 30s, 5m or 1h, got {value!r}")
        if seconds <= minimum:
            raise self.fail(f"must be longer than {minimum:g}s, got {value!r}")
        return seconds

    def _child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key


def _bounds(node: Node, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise node.fail(f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise node.fail(f"must be at most {maximum}, got {value}")


def kind(value: Any) -> str:
    """How a value is named in messages ("a list", "nothing"), never the value itself."""
    if value is None:
        return "nothing"
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return kinds.get(type(value), type(value).__name__)


def optional(nodes: dict[str, Node], key: str, parse: Callable[[Node], T], default: T) -> T:
    """``parse`` of the key's node, or ``default`` when the key is absent or null."""
    node = nodes.get(key)
    if node is None or node.value is None:
        return default
    return parse(node)


def hostname(node: Node) -> str:
    name = node.string().lower().rstrip(".")
    if not _HOSTNAME.match(name):
        raise node.fail(f"is not a valid DNS name: {node.value!r}")
    return name


def ip_address(node: Node) -> str:
    text = node.string()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise node.fail(f"must be an IP address, got {text!r}") from None


def file_path(node: Node, base: Path) -> Path:
    """A configured path; a relative one is relative to the configuration file's directory."""
    path = Path(node.string())
    return path if path.is_absolute() else base / path


def readable_file(node: Node, base: Path) -> Path:
    path = file_path(node, base)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise node.fail(f"cannot read {path}: {exc.strerror or exc}") from None
    return path


def read_yaml(path: Path, error: type[Exception] = ConfigError) -> Any:
    """A YAML file's content; a missing, unreadable or malformed file raises ``error`` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise error(f"{path}: not valid YAML{where}: {problem}") from None
