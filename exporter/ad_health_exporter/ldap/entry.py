"""Directory entries as the DC sent them, and the rootDSE read from one."""

from __future__ import annotations

from dataclasses import dataclass, field

ROOT_DSE_ATTRIBUTES = (
    "dnsHostName",
    "dsServiceName",
    "serverName",
    "namingContexts",
    "defaultNamingContext",
    "configurationNamingContext",
    "schemaNamingContext",
    "rootDomainNamingContext",
    "currentTime",
    "isGlobalCatalogReady",
    "isSynchronized",
)


@dataclass(frozen=True)
class Entry:
    dn: str
    # Attribute names lower-cased; values as the raw bytes the DC sent.
    attributes: dict[str, list[bytes]] = field(default_factory=dict)

    def raw(self, name: str) -> list[bytes]:
        return self.attributes.get(name.lower(), [])

    def first_raw(self, name: str) -> bytes | None:
        values = self.raw(name)
        return values[0] if values else None

    def texts(self, name: str) -> list[str]:
        return [v.decode("utf-8", errors="replace") for v in self.raw(name)]

    def text(self, name: str) -> str | None:
        value = self.first_raw(name)
        return None if value is None else value.decode("utf-8", errors="replace")

    def integer(self, name: str) -> int | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            return None

    def boolean(self, name: str) -> bool | None:
        text = self.text(name)
        return None if text is None else text.upper() == "TRUE"


@dataclass(frozen=True)
class RootDSE:
    dns_host_name: str | None
    ds_service_name: str | None
    server_name: str | None
    naming_contexts: tuple[str, ...]
    default_naming_context: str | None
    configuration_naming_context: str | None
    schema_naming_context: str | None
    root_domain_naming_context: str | None
    current_time: str | None
    is_global_catalog_ready: bool | None
    is_synchronized: bool | None

    @classmethod
    def from_entry(cls, entry: Entry) -> RootDSE:
        host = entry.text("dnsHostName")
        return cls(
            # The canonical form the inventory keys DCs by: lower case, no root dot.
            dns_host_name=(host.lower().rstrip(".") or None) if host else None,
            ds_service_name=entry.text("dsServiceName"),
            server_name=entry.text("serverName"),
            naming_contexts=tuple(entry.texts("namingContexts")),
            default_naming_context=entry.text("defaultNamingContext"),
            configuration_naming_context=entry.text("configurationNamingContext"),
            schema_naming_context=entry.text("schemaNamingContext"),
            root_domain_naming_context=entry.text("rootDomainNamingContext"),
            current_time=entry.text("currentTime"),
            is_global_catalog_ready=entry.boolean("isGlobalCatalogReady"),
            is_synchronized=entry.boolean("isSynchronized"),
        )


