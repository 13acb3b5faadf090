"""What makes DCs disagree about an account's key: replication switched off on a DC (its nTDSDSA
`options`), and a computer's password reset on one chosen DC.

With inbound replication disabled on dc2 and a computer's password reset on dc1, dc1 holds the new
key (kvno n+1) and dc2 the old one (kvno n) until replication is switched on again: the 1397
condition ("the server's password is out of date at the domain controller").
"""

from __future__ import annotations

import re

from . import ldif, passwords
from .config import DC_NAMES, DOMAIN_DN, SITE
from .errors import LabError
from .samba import CONFIG_DN, SambaTools

# nTDSDSA options (MS-ADTS 6.1.1.2.2.1.2.1.1) and the names samba-tool and repadmin give them.
DSA_OPTIONS = {"inbound": (0x2, "DISABLE_INBOUND_REPL"), "outbound": (0x4, "DISABLE_OUTBOUND_REPL")}
DIRECTIONS = tuple(DSA_OPTIONS)


def ntds_dn(dc: str) -> str:
    return f"CN=NTDS Settings,CN={dc.upper()},CN=Servers,CN={SITE},CN=Sites,{CONFIG_DN}"


def dsa_options(tools: SambaTools, dc: str) -> int:
    """The DC's own nTDSDSA `options`, read from its own database: with outbound replication off,
    the other DC never learns of the change, so only this copy is the truth."""
    found = tools.ldb_search(dc, ntds_dn(dc), "(objectClass=nTDSDSA)", ["options"], scope="base")
    if not found:
        raise LabError(f"{dc}: its nTDSDSA object {ntds_dn(dc)} is missing from its own database")
    return int(ldif.first(found[0], "options") or 0)


def disabled_directions(tools: SambaTools, dc: str) -> tuple[str, ...]:
    options = dsa_options(tools, dc)
    return tuple(d for d, (bit, _name) in DSA_OPTIONS.items() if options & bit)


def set_replication(tools: SambaTools, dc: str, direction: str, enabled: bool) -> tuple[str, ...]:
    """`samba-tool drs options <dc> --dsa-option=(+|-)DISABLE_<DIRECTION>_REPL` on the DC itself, as an
    administrator (repadmin /options <DC> (+|-)DISABLE_INBOUND_REPL on Windows). Returns the
    directions disabled afterwards, read back from the DC's database."""
    tools.cfg.check_dc(dc)
    if direction not in DSA_OPTIONS:
        raise LabError(f"unknown replication direction {direction!r}: use {' or '.join(DIRECTIONS)}")
    bit, name = DSA_OPTIONS[direction]
    # The DC by address: a stale A record may give its name a second (dead) address.
    tools.tool(dc, ["drs", "options", tools.cfg.dc_ip(dc), f"--dsa-option={'-' if enabled else '+'}{name}"],
               timeout=60, what=f"drs options {'-' if enabled else '+'}{name} on {dc}")
    disabled = disabled_directions(tools, dc)
    if (direction in disabled) == enabled:
        raise LabError(f"{dc}: samba-tool drs options ran, but {name} is still "
                       f"{'set' if enabled else 'not set'} (options {dsa_options(tools, dc):#x})")
    return disabled


def key_version(tools: SambaTools, dc: str, sam_account_name: str) -> tuple[int, int]:
    """(msDS-KeyVersionNumber, pwdLastSet FILETIME) of an account as this DC holds it."""
    found = tools.ldb_search(dc, DOMAIN_DN, f"(sAMAccountName={sam_account_name})",
                             ["msDS-KeyVersionNumber", "pwdLastSet"])
    if not found:
        raise LabError(f"{dc}: no account {sam_account_name} in its database")
    return int(ldif.first(found[0], "msDS-KeyVersionNumber") or 0), int(ldif.first(found[0], "pwdLastSet") or 0)


def reset_computer_password(tools: SambaTools, dc: str, computer: str) -> int:
    """Give a computer account a new random password on this DC only (as `Reset-ComputerMachinePassword
    -Server <dc>` does) and return the key version the DC holds afterwards.

    The new password is written to secrets/computers/<NAME>.password first, so the lab keeps knowing
    it (and redacts it). DC accounts are refused: a DC whose own key changes under it stops replicating.
    """
    name = computer.rstrip("$").upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{0,14}", name):
        raise LabError(f"{computer!r} is not a computer name (NetBIOS, at most 15 characters)")
    if name.lower() in DC_NAMES:
        raise LabError(f"{name}$ is a DC's own account: resetting it would break that DC's replication")
    before, _ = key_version(tools, dc, f"{name}$")
    password = passwords.generate()
    passwords.write_password(tools.cfg.secrets_dir / "computers" / f"{name}.password", password)
    tools = SambaTools(tools.cfg, (*tools.secrets, password))
    tools.tool(dc, ["user", "setpassword", f"{name}$", f"--newpassword={password}",
                    "-H", f"ldap://{tools.cfg.dc_ip(dc)}"], timeout=60, what=f"reset the password of {name}$ on {dc}")
    after, _ = key_version(tools, dc, f"{name}$")
    if after <= before:
        raise LabError(f"{dc}: the password of {name}$ was reset, but its key version stayed {after}")
    return after
