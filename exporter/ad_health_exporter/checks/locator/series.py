"""Series of the locator check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .ping import NAME, LocatorResult


def series(domain: str, result: LocatorResult) -> Iterator[Series]:
    for dc in result.dcs:
        key = (domain, dc.host)
        said = dc.advertisement
        yield Series(m.DC_CHECK_SUCCESS, (*key, NAME), 0.0 if said is None else 1.0)
        yield Series(m.LDAP_PING_SUCCESS, key, 0.0 if said is None else 1.0)
        if said is None:
            # No answer, no roles: a DC that is silent must never read as "advertises nothing".
            continue
        yield Series(m.LDAP_PING_RTT, key, said.rtt)
        for role, advertised in said.roles.items():
            yield Series(m.DC_ADVERTISED, (*key, role), 1.0 if advertised else 0.0)
        yield Series(m.LDAP_PING_INFO, (*key, said.site, said.client_site), 1.0)
