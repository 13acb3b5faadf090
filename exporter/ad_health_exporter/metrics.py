"""The catalogue: every metric the exporter can expose, in one place.

docs/metrics.md is checked against this module by a test, and the alert rules and
dashboard are checked against it too, so a name changes here or nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "info"]

_REFRESHED = " Refreshed on the check's interval, not on scrape."


@dataclass(frozen=True)
class MetricSpec:
    name: str
    help: str
    labels: tuple[str, ...]
    type: MetricType = "gauge"
    check: str | None = None  # the check that produces it; None for exporter-level metrics


@dataclass(frozen=True)
class Series:
    """One series (a metric and its label values) with its current value; each check's
    ``series`` function turns its result into these."""

    metric: MetricSpec
    labels: tuple[str, ...]
    value: float

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.metric.labels):
            raise ValueError(
                f"{self.metric.name}: {len(self.labels)} label values for labels {self.metric.labels}"
            )


def _g(name: str, help_: str, labels: tuple[str, ...], check: str | None) -> MetricSpec:
    suffix = _REFRESHED if check is not None else ""
    return MetricSpec(name=name, help=help_ + suffix, labels=labels, check=check)


D = ("domain",)
DDC = ("domain", "domain_controller")

# Exporter and check health
BUILD_INFO = _g("ad_exporter_build_info", "Always 1; the version label says which build runs.", ("version",), None)
CHECK_SUCCESS = _g(
    "ad_check_success",
    "1 if the last run of the check completed, 0 if it failed (could not read is never healthy).",
    ("domain", "check"),
    None,
)
CHECK_DURATION = _g(
    "ad_check_duration_seconds", "Duration of the check's last run in seconds.", ("domain", "check"), None
)
CHECK_LAST_SUCCESS = _g(
    "ad_check_last_success_timestamp_seconds",
    "Unix time at which the check last completed successfully.",
    ("domain", "check"),
    None,
)
DC_CHECK_SUCCESS = _g(
    "ad_domain_controller_check_success",
    "1 if the per-DC part of a per-DC check could read that DC in its last run, 0 if not.",
    ("domain", "domain_controller", "check"),
    None,
)

# Inventory
DC_INFO = _g(
    "ad_domain_controller_info",
    "1 per domain controller found in the Configuration partition (nTDSDSA objects).",
    ("domain", "domain_controller", "site", "global_catalog", "read_only", "pdc"),
    "inventory",
)
DC_UP = _g(
    "ad_domain_controller_up",
    "1 if the DC's rootDSE answered over LDAP in the last inventory run, 0 if not.",
    DDC,
    "inventory",
)
DC_REPLICATION_DISABLED = _g(
    "ad_domain_controller_replication_disabled",
    "1 if the DC's inbound or outbound replication is switched off (nTDSDSA options DISABLE_INBOUND_REPL 0x2, "
    "DISABLE_OUTBOUND_REPL 0x4), as the DC itself holds them; 0 if not.",
    ("domain", "domain_controller", "direction"),
    "inventory",
)

# SPNs
SPN_DUPLICATES = _g(
    "ad_spn_duplicates",
    "Distinct SPNs (case-folded, HOST aliases expanded) held by more than one account.",
    D,
    "spn",
)
SPN_DUPLICATE_ACCOUNTS = _g(
    "ad_spn_duplicate_accounts",
    "For each duplicated SPN, how many accounts hold it (series capped by spn.duplicate_series_limit).",
    ("domain", "spn"),
    "spn",
)
SPN_EXPECTED_HOLDERS = _g(
    "ad_spn_expected_holders",
    "For each expected SPN, how many accounts hold it (0 = missing, more than 1 = duplicate).",
    ("domain", "spn", "account"),
    "spn",
)
SPN_EXPECTED_ON_ACCOUNT = _g(
    "ad_spn_expected_on_account",
    "1 if the expected account holds the expected SPN, 0 if not.",
    ("domain", "spn", "account"),
    "spn",
)
SPN_VALUES = _g("ad_spn_values", "SPN values scanned.", D, "spn")
SPN_HOST_MISSING = _g(
    "ad_spn_host_missing_accounts",
    "Enabled computer accounts with a dNSHostName that do not hold HOST/<dNSHostName>.",
    D,
    "spn",
)
SPN_MALFORMED = _g(
    "ad_spn_malformed_values",
    "SPN values that do not parse (wrong number of parts, empty service class or host).",
    D,
    "spn",
)

# Accounts
COMPUTER_ACCOUNTS = _g(
    "ad_computer_accounts", "Computer accounts, by enabled state.", ("domain", "enabled"), "accounts"
)
COMPUTER_PASSWORD_STALE = _g(
    "ad_computer_password_stale_accounts",
    "Enabled computer accounts whose pwdLastSet is older than older_than_days (pwdLastSet 0 counts as stale).",
    ("domain", "older_than_days"),
    "accounts",
)
COMPUTER_PRESENT = _g(
    "ad_computer_account_present",
    "Watched computers (configured, plus every DC): 1 if the account exists.",
    ("domain", "computer"),
    "accounts",
)
COMPUTER_ENABLED = _g(
    "ad_computer_account_enabled",
    "Watched computers: 1 if the account exists and is enabled.",
    ("domain", "computer"),
    "accounts",
)
COMPUTER_PASSWORD_LAST_SET = _g(
    "ad_computer_password_last_set_timestamp_seconds",
    "Watched computers: pwdLastSet as Unix time (absent if never set).",
    ("domain", "computer"),
    "accounts",
)
KRBTGT_PASSWORD_LAST_SET = _g(
    "ad_krbtgt_password_last_set_timestamp_seconds", "pwdLastSet of the krbtgt account as Unix time.", D, "accounts"
)

# Keys: the same account's key as every DC holds it
_DDA = ("domain", "domain_controller", "account")
ACCOUNT_KEY_VERSION = _g(
    "ad_account_key_version",
    "msDS-KeyVersionNumber of the account as that DC holds it (absent if the DC cannot be read or lacks the account).",
    _DDA,
    "keys",
)
ACCOUNT_PASSWORD_LAST_SET = _g(
    "ad_account_password_last_set_timestamp_seconds",
    "pwdLastSet of the account as that DC holds it, as Unix time (absent if never set or not readable).",
    _DDA,
    "keys",
)
ACCOUNT_KEY_DIVERGENT = _g(
    "ad_account_key_divergent",
    "1 while the DCs that could be read disagree about the account's key (key version, pwdLastSet, or whether "
    "the account exists), 0 while they agree; absent when fewer than two DCs could be compared.",
    ("domain", "account"),
    "keys",
)
COMPUTER_PASSWORD_DIVERGENT = _g(
    "ad_computer_password_divergent_accounts",
    "Enabled computer accounts whose pwdLastSet differs between the DCs that could be read, among those whose "
    "password changed within keys.look_back on any of them.",
    D,
    "keys",
)

# Time
TIME_OFFSET = _g(
    "ad_domain_controller_time_offset_seconds",
    "DC clock minus exporter clock in seconds, signed; source is ntp or ldap (rootDSE currentTime, RTT-corrected).",
    ("domain", "domain_controller", "source"),
    "time",
)
TIME_PROBE_SUCCESS = _g(
    "ad_domain_controller_time_probe_success",
    "1 if the time probe of that source answered, 0 if not.",
    ("domain", "domain_controller", "source"),
    "time",
)
TIME_PROBE_RTT = _g(
    "ad_domain_controller_time_probe_rtt_seconds",
    "Round-trip time of the time probe in seconds.",
    ("domain", "domain_controller", "source"),
    "time",
)
NTP_STRATUM = _g("ad_domain_controller_ntp_stratum", "Stratum from the DC's NTP answer.", DDC, "time")
NTP_LEAP = _g(
    "ad_domain_controller_ntp_leap", "Leap indicator from the DC's NTP answer (3 = unsynchronised).", DDC, "time"
)

# DNS
DNS_DC_ADDRESSES = _g(
    "ad_dns_domain_controller_addresses",
    "A/AAAA addresses the DC's host name resolves to, through that DNS server.",
    ("domain", "domain_controller", "dns_server"),
    "dns",
)
DNS_STALE_ADDRESSES = _g(
    "ad_dns_stale_addresses",
    "Of those addresses, the ones where no LDAP server answers as that DC (refused, timed out, or another identity).",
    ("domain", "domain_controller", "dns_server"),
    "dns",
)
DNS_SRV_UNKNOWN = _g(
    "ad_dns_srv_unknown_targets",
    "Targets of a DC locator SRV record that are not current DCs.",
    ("domain", "record", "dns_server"),
    "dns",
)
DNS_SRV_MISSING = _g(
    "ad_dns_srv_missing_domain_controllers",
    "Current DCs that a DC locator SRV record does not list.",
    ("domain", "record", "dns_server"),
    "dns",
)
DNS_DSA_ALIAS = _g(
    "ad_dns_dsa_alias_present",
    "1 if <DSA GUID>._msdcs.<forest> resolves to the DC (replication depends on it).",
    ("domain", "domain_controller", "dns_server"),
    "dns",
)
DNS_RECORD_TIMESTAMP = _g(
    "ad_dns_record_timestamp_seconds",
    "Dynamic A/AAAA records of a DC's host name in AD-integrated zones: the record's aging timestamp as Unix time.",
    ("domain", "domain_controller", "address"),
    "dns",
)

# Replication
_REPL = ("domain", "domain_controller", "naming_context", "source")
REPL_FAILURES = _g(
    "ad_replication_consecutive_failures",
    "Consecutive inbound replication failures from the source for the naming context.",
    _REPL,
    "replication",
)
REPL_LAST_SUCCESS = _g(
    "ad_replication_last_success_timestamp_seconds",
    "Unix time of the last successful inbound replication (0 = never).",
    _REPL,
    "replication",
)
REPL_LAST_ATTEMPT = _g(
    "ad_replication_last_attempt_timestamp_seconds",
    "Unix time of the last inbound replication attempt.",
    _REPL,
    "replication",
)
REPL_LAST_RESULT = _g(
    "ad_replication_last_result",
    "Win32 result of the last inbound replication attempt (0 = success), as unsigned 32-bit.",
    _REPL,
    "replication",
)

# Locator (the LDAP ping, UDP 389)
LDAP_PING_SUCCESS = _g(
    "ad_domain_controller_ldap_ping_success",
    "1 if the DC answered the LDAP ping (UDP 389, as the DC locator sends it) as itself, 0 if not.",
    DDC,
    "locator",
)
LDAP_PING_RTT = _g(
    "ad_domain_controller_ldap_ping_rtt_seconds",
    "Round-trip time of the answered LDAP ping in seconds.",
    DDC,
    "locator",
)
DC_ADVERTISED = _g(
    "ad_domain_controller_advertised",
    "1 if the DC's LDAP ping answer advertises the role (pdc, gc, kdc, timeserv, good_timeserv, writable, rodc, "
    "ldap, ds), 0 if not; absent while it does not answer.",
    ("domain", "domain_controller", "role"),
    "locator",
)
LDAP_PING_INFO = _g(
    "ad_domain_controller_ldap_ping_info",
    "1 per answering DC: the site it says it is in, and the site it assigns to the exporter's address "
    '(client_site "" = none).',
    ("domain", "domain_controller", "site", "client_site"),
    "locator",
)

# Kerberos: what each DC's KDC hands the monitoring identity
_DDS = ("domain", "domain_controller", "spn")
KERBEROS_KDC_UP = _g(
    "ad_kerberos_kdc_up",
    "1 if the DC's KDC answered the AS exchange (a TGT or a Kerberos error), 0 if it did not answer; "
    "absent when the probe could not ask.",
    DDC,
    "kerberos",
)
KERBEROS_AS_SECONDS = _g(
    "ad_kerberos_as_exchange_seconds",
    "Time the DC's KDC took to answer the AS exchange, both round trips (pre-authentication) included.",
    DDC,
    "kerberos",
)
KERBEROS_AS_ERROR = _g(
    "ad_kerberos_as_error_code",
    "0 if the KDC issued a TGT to the monitoring identity, else the KDC's error code (RFC 4120 7.5.9); "
    "absent when it did not answer.",
    DDC,
    "kerberos",
)
KERBEROS_TICKET_ISSUED = _g(
    "ad_kerberos_service_ticket_issued",
    "1 if the DC's KDC issued a service ticket for the SPN, 0 if not; absent when the DC issued no TGT.",
    _DDS,
    "kerberos",
)
KERBEROS_TICKET_ERROR = _g(
    "ad_kerberos_service_ticket_error_code",
    "0 if issued, else the KDC's error code (7 = KDC_ERR_S_PRINCIPAL_UNKNOWN: no account or several hold the "
    "SPN); absent when no KDC answer came.",
    _DDS,
    "kerberos",
)
KERBEROS_TICKET_KVNO = _g(
    "ad_kerberos_service_ticket_key_version",
    "Key version (kvno) of the service key the issued ticket is encrypted with.",
    _DDS,
    "kerberos",
)
KERBEROS_TICKET_DIVERGENT = _g(
    "ad_kerberos_service_ticket_key_divergent",
    "1 while the DCs that issued a ticket for the SPN used different key versions (error 1397 for clients of "
    "the DC with the older key), 0 while they agree; absent when fewer than two DCs issued one.",
    ("domain", "spn"),
    "kerberos",
)


def flag(value: bool) -> str:
    """Booleans in label values are spelled as the contract says: "true"/"false"."""
    return "true" if value else "false"


ALL: tuple[MetricSpec, ...] = tuple(v for v in list(globals().values()) if isinstance(v, MetricSpec))
BY_NAME: dict[str, MetricSpec] = {m.name: m for m in ALL}
