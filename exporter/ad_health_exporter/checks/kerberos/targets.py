"""Who the probe is, and which SPNs it asks every KDC for.

The monitoring identity is the bind account: a simple bind's UPN (sent as an enterprise name,
so the KDC maps it whatever the account's sAMAccountName or UPN suffix), ``kerberos.principal``
for a bind name that is not a UPN, or a gssapi bind's keytab principal.

The SPNs are a short, configured list and never "every SPN": each DC's ``ldap/<host>``, the
expected SPNs of the ``spn`` section, ``HOST/<dNSHostName>`` of each watched computer of the
``accounts`` section (read over LDAP: clients ask for the name they connect to, which is the
FQDN; ``HOST/<NAME>`` when the account has none), and ``kerberos.spns``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ldap3.utils.conv import escape_filter_chars

from ...config import BindConfig, Secret
from ...ldap import BindRefused, LdapError
from ...topology import Inventory
from ..accounts.settings import AccountsSettings
from ..base import CheckContext, CheckError
from ..spn.settings import SpnSettings
from .model import Target
from .settings import KerberosSettings

log = logging.getLogger(__name__)

_UPN = re.compile(r"^[^@\\/=,\s]+@[^@\\/=,\s]+\.[^@\\/=,\s]+$")
# What Directory says while it backs off a refused bind account (ldap/directory.py).
_CREDENTIAL_BACKING_OFF = "not binding as "


@dataclass(frozen=True)
class Identity:
    principal: str  # a UPN when ``enterprise``, else name@REALM
    enterprise: bool
    password: Secret | None = None
    keytab: Path | None = None


def identity(bind: BindConfig, settings: KerberosSettings, realm: str) -> Identity:
    """The monitoring identity, or a CheckError naming the configuration keys to set."""
    if bind.method == "gssapi":
        if settings.principal is not None:
            raise CheckError(
                "kerberos.principal is for simple binds: with bind.method gssapi the probe uses the keytab's "
                f"principal {bind.user}"
            )
        return Identity(bind.user, enterprise=False, keytab=bind.keytab)
    given = settings.principal or bind.user
    if settings.principal is None and not _UPN.match(given):
        name = given.rsplit("\\", 1)[-1] if "\\" in given else "<sAMAccountName>"
        raise CheckError(
            f"cannot tell the Kerberos principal of bind.user {given!r}, which is not a UPN: set "
            f"kerberos.principal (for example {name}@{realm}), or kerberos.enabled: false"
        )
    user, suffix = given.rsplit("@", 1)
    if suffix.upper() == realm and settings.principal is not None:
        return Identity(f"{user}@{realm}", enterprise=False, password=bind.password)
    return Identity(given, enterprise=True, password=bind.password)


def spn_targets(
    inventory: Inventory,
    spn_settings: SpnSettings,
    watched: Iterable[tuple[str, str | None]],
    extra: Iterable[str],
) -> tuple[Target, ...]:
    """Every SPN to ask for, once each (SPNs compare case-insensitively), in report order."""
    found: dict[str, Target] = {}

    def add(target: Target) -> None:
        found.setdefault(target.label, target)

    for dc in inventory.domain_controllers:
        add(Target(f"ldap/{dc.host}", "domain_controller", dc.host))
    for expected in spn_settings.expected:
        add(Target(expected.spn, "expected", expected.account))
    for computer, dns_host_name in watched:
        add(Target(f"HOST/{dns_host_name or computer}", "watched_computer", computer))
    for spn in extra:
        add(Target(spn, "configured", "kerberos.spns"))
    return tuple(found.values())


@dataclass(frozen=True)
class DirectoryPass:
    host_names: dict[str, str | None]  # watched computer -> dNSHostName (None: none, or not found)
    note: str | None = None  # why the names could not be read


def read_host_names(ctx: CheckContext[KerberosSettings], inventory: Inventory, who: str) -> DirectoryPass:
    """The watched computers' dNSHostName, read over one bound LDAP connection.

    The bind is also the lockout guard: when the DCs refuse the bind account, or the directory is
    backing off after such a refusal, no KDC is asked either, since every AS exchange with a
    refused password counts towards the account's lockout threshold like a refused bind does.
    """
    accounts = ctx.domain.settings.get("accounts")
    names = accounts.watched_computers if isinstance(accounts, AccountsSettings) else ()
    errors: list[str] = []
    for host in inventory.read_order():
        try:
            with ctx.directory.connect(host) as conn:
                if not names:
                    return DirectoryPass({})
                wanted = "".join(f"(sAMAccountName={escape_filter_chars(n)}$)" for n in names)
                found = {
                    (e.text("sAMAccountName") or "").rstrip("$").upper(): e.text("dNSHostName")
                    for e in conn.search(inventory.domain_dn, f"(&(objectCategory=computer)(|{wanted}))",
                                         ("sAMAccountName", "dNSHostName"))
                }
        except BindRefused as exc:
            if exc.account_problem:
                raise _not_probing(who, exc) from None
            errors.append(str(exc))
            continue
        except LdapError as exc:
            if exc.reason.startswith(_CREDENTIAL_BACKING_OFF):
                raise _not_probing(who, exc) from None
            errors.append(str(exc))
            continue
        return DirectoryPass({n: (found.get(n) or "").lower() or None for n in names})
    note = None
    if names:
        note = (f"the watched computers' dNSHostName could not be read ({'; '.join(errors) or 'no DC known'}): "
                "asked for HOST/<NAME>")
        log.warning("cannot read the watched computers' host names",
                    extra={"domain": ctx.domain.name, "reason": "; ".join(errors)})
    return DirectoryPass(dict.fromkeys(names), note)


def _not_probing(who: str, exc: LdapError) -> CheckError:
    return CheckError(
        f"not asking any KDC for a ticket as {who}: {exc} (each AS exchange with a refused password "
        "counts towards the account's lockout, like a refused bind)"
    )
