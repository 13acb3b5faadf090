"""Distinguished-name helpers: DNS names from DC= components, parents, sites, comparison."""

from __future__ import annotations

from ldap3.utils.dn import parse_dn


def dn_to_dns_name(dn: str) -> str:
    """``DC=lab,DC=example`` -> ``lab.example`` (only the DC= components count)."""
    return ".".join(value for attr, value, _ in parse_dn(dn) if attr.lower() == "dc").lower()


def dns_name_to_dn(name: str) -> str:
    return ",".join(f"DC={label}" for label in name.rstrip(".").split("."))


def parent_dn(dn: str) -> str:
    parts = parse_dn(dn)
    return ",".join(f"{a}={v}" for a, v, _ in parts[1:])


def site_of_dsa(dsa_dn: str) -> str:
    """CN=NTDS Settings,CN=<server>,CN=Servers,CN=<site>,CN=Sites,... -> <site>."""
    parts = parse_dn(dsa_dn)
    for i, (attr, value, _) in enumerate(parts):
        if attr.lower() == "cn" and value.lower() == "sites" and i > 0:
            return parts[i - 1][1]
    return ""


def same_dn(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False

    def norm(dn: str) -> list[tuple[str, str]]:
        return [(x.lower(), v.lower()) for x, v, _ in parse_dn(dn)]

    try:
        return norm(a) == norm(b)
    except Exception:  # noqa: BLE001 - whatever ldap3 raises on a DN it cannot parse: compare the text
        return a.lower() == b.lower()
