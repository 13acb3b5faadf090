"""The accounts check's logic on constructed entries: enabled counts, password ages, watched computers, krbtgt."""

from __future__ import annotations

import pytest

from ad_health_exporter import metrics as m
from ad_health_exporter.checks.accounts import report as accounts_report
from ad_health_exporter.checks.accounts import scan as accounts
from ad_health_exporter.checks.accounts import series as accounts_samples
from ad_health_exporter.checks.accounts.settings import AccountsSettings
from ad_health_exporter.checks.base import CheckContext, CheckError
from ad_health_exporter.formats.filetime import FILETIME_NEVER, unix_to_filetime
from ad_health_exporter.ldap import Entry
from support.builders import DOMAIN, DOMAIN_DN, context, dc, inventory
from support.directory import FakeDc, FakeDirectory

NOW = 1_795_000_000.0  # fixed "now" for every age below
DAY = 86400
KRBTGT_DN = f"CN=krbtgt,CN=Users,{DOMAIN_DN}"
# How the check finds krbtgt when it is not at its usual DN.
KRBTGT_SEARCH = "(&(objectCategory=person)(sAMAccountName=krbtgt))"
LOST = "search failed: connection lost"

INVENTORY = inventory(dc(f"dc1.{DOMAIN}", pdc=True), dc(f"dc2.{DOMAIN}"))


def ago(days: float) -> int:
    return unix_to_filetime(NOW - days * DAY)


def computer(
    name: str, pwd: int | str | None, *, enabled: bool = True, dn: str | None = None, uac: int = 4096
) -> Entry:
    attrs = {"samaccountname": [f"{name}$".encode()], "useraccountcontrol": [str(uac | (0 if enabled else 2)).encode()]}
    if pwd is not None:
        attrs["pwdlastset"] = [str(pwd).encode()]
    return Entry(dn=dn or f"CN={name},CN=Computers,{DOMAIN_DN}", attributes=attrs)


def dc_entries() -> list[Entry]:
    return [computer(d.name, ago(3), dn=d.computer_dn, uac=0x82000) for d in INVENTORY.domain_controllers]


def tally(entries, thresholds=(45, 90, 180), watched=(), with_dcs=True):
    watches = accounts.watch_list(watched, INVENTORY, with_dcs)
    return accounts.tally(entries, NOW, thresholds, watches, DOMAIN), watches


# --- pwdLastSet ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state", "unix"),
    [
        (str(ago(10)).encode(), "set", NOW - 10 * DAY),
        (b"0", "must_change", None),  # "must change at next logon", not 1601
        (b"-1", "must_change", None),
        (str(FILETIME_NEVER).encode(), "must_change", None),  # int64 max: not a time
        (str(2**63).encode(), "unreadable", None),
        (b"-5", "unreadable", None),
        (b"garbage", "unreadable", None),
        (None, "absent", None),
    ],
)
def test_password_age_edges(raw: bytes | None, state: str, unix: float | None) -> None:
    age = accounts.password_age(raw)
    assert age.state == state
    assert age.unix == pytest.approx(unix) if unix is not None else age.unix is None
    # Anything that is not a real time is older than any cutoff: it is never counted as fresh.
    assert age.older_than(NOW - 1000 * DAY) is (unix is None)


def test_a_password_exactly_at_the_threshold_is_not_older_than_it() -> None:
    exactly = accounts.password_age(str(ago(90)).encode())
    assert not exactly.older_than(NOW - 90 * DAY)
    assert exactly.older_than(NOW - 90 * DAY + 1)


# --- counting ------------------------------------------------------------------------------------


def test_counts_and_thresholds() -> None:
    entries = dc_entries() + [
        computer("PC-HEALTHY", ago(2)),
        computer("PC-PWD90D", ago(90.01)),
        computer("PC-PWD200D", ago(200)),
        computer("PC-MUSTCHANGE", 0),
        computer("PC-NOPWD", None),
        computer("PC-DISABLED", ago(400), enabled=False),  # disabled: never counted as stale
    ]
    (t, counts, oldest, seen), _ = tally(entries)
    assert (t.enabled, t.disabled) == (7, 1)
    # 45: 90d, 200d, must-change, absent; 90: same; 180: 200d, must-change, absent.
    assert counts == [4, 4, 3]
    assert [o.computer for o in oldest] == ["PC-MUSTCHANGE", "PC-NOPWD", "PC-PWD200D", "PC-PWD90D"]


def test_thresholds_are_sorted_and_deduplicated_in_the_result() -> None:
    (_, counts, _, _), _ = tally([computer("A", ago(100))], thresholds=(180, 45, 45))
    assert counts == [1, 0]


def test_oldest_list_keeps_only_the_oldest() -> None:
    entries = [computer(f"PC{i:03d}", ago(50 + i)) for i in range(100)]
    (_, counts, oldest, _), _ = tally(entries)
    assert counts[0] == 100
    assert len(oldest) == accounts.EXAMPLES_LIMIT
    assert [o.computer for o in oldest] == [f"PC{i:03d}" for i in range(99, 99 - accounts.EXAMPLES_LIMIT, -1)]


def test_watched_computers_and_domain_controllers() -> None:
    entries = dc_entries() + [computer("FS01", ago(200)), computer("PC-DISABLED", ago(1), enabled=False)]
    (_, _, _, seen), watches = tally(entries, watched=("fs01", "PC-DISABLED$", "GONE", "dc1"))
    assert [(w.computer, w.source) for w in watches] == [
        ("DC1", "domain_controller"), ("DC2", "domain_controller"),
        ("FS01", "config"), ("PC-DISABLED", "config"), ("GONE", "config"),
    ]
    assert set(seen) == {"DC1", "DC2", "FS01", "PC-DISABLED"}
    assert seen["FS01"].enabled and seen["FS01"].password.unix == pytest.approx(NOW - 200 * DAY)
    assert not seen["PC-DISABLED"].enabled and seen["PC-DISABLED"].present
    assert seen["DC1"].domain_controller == f"dc1.{DOMAIN}"


def test_a_dc_is_found_by_its_computer_dn_even_if_renamed() -> None:
    entries = [computer("RENAMED", ago(1), dn=INVENTORY.domain_controllers[0].computer_dn)]
    (_, _, _, seen), _ = tally(entries)
    assert "DC1" in seen and "DC2" not in seen


def result_for(entries: list[Entry], watched: tuple[str, ...] = ("FS01", "GONE", "PC-DISABLED"),
               thresholds: tuple[int, ...] = (45, 90, 180), krbtgt_days: float | None = 30) -> accounts.AccountsResult:
    directory = directory_of(entries, krbtgt=None if krbtgt_days is None else ago(krbtgt_days))
    ctx = accounts_context(directory, AccountsSettings(watched_computers=watched, password_age_days=thresholds))
    return accounts.run(ctx)


# --- run(), samples and findings --------------------------------------------------------------------


def directory_of(entries: list[Entry], krbtgt: int | None = None) -> FakeDirectory:
    """Both DCs hold ``entries``, and krbtgt with that pwdLastSet if given (else no krbtgt at all)."""
    objects = {} if krbtgt is None else {KRBTGT_DN: Entry(KRBTGT_DN, {"pwdlastset": [str(krbtgt).encode()]})}
    return FakeDirectory({h: FakeDc(entries, {KRBTGT_SEARCH: []}, objects) for h in INVENTORY.hosts})


def accounts_context(directory: FakeDirectory, cfg: AccountsSettings) -> CheckContext[AccountsSettings]:
    return context(cfg, directory, inventory=INVENTORY, clock=lambda: NOW)


def standard_entries() -> list[Entry]:
    return dc_entries() + [
        computer("PC-HEALTHY", ago(2)), computer("FS01", ago(100)), computer("PC-PWD200D", ago(200)),
        computer("PC-DISABLED", ago(5), enabled=False),
    ]


def test_run_reads_only_the_needed_attributes_and_the_krbtgt() -> None:
    directory = directory_of(standard_entries(), krbtgt=ago(30))
    result = accounts.run(accounts_context(directory, AccountsSettings()))
    first = directory.searches[0]
    assert (first.host, first.base, first.filter_, first.attributes) == (
        f"dc1.{DOMAIN}", DOMAIN_DN, "(objectCategory=computer)", ("sAMAccountName", "userAccountControl", "pwdLastSet"))
    assert result.krbtgt is not None and result.krbtgt.unix == pytest.approx(NOW - 30 * DAY)
    assert result.checked_at == NOW


def test_run_fails_over_and_fails_when_no_dc_answers() -> None:
    directory = directory_of(standard_entries())
    directory.dcs[f"dc1.{DOMAIN}"].search_failure = LOST
    assert accounts.run(accounts_context(directory, AccountsSettings())).read_from == f"dc2.{DOMAIN}"
    directory.dcs[f"dc2.{DOMAIN}"].search_failure = LOST
    with pytest.raises(CheckError, match="cannot read computer accounts on any DC: dc1.lab.example: search failed"):
        accounts.run(accounts_context(directory, AccountsSettings()))


def test_samples() -> None:
    result = result_for(standard_entries())
    got = {(s.metric.name, s.labels): s.value for s in accounts_samples.series(DOMAIN, result)}
    assert got[("ad_computer_accounts", (DOMAIN, "true"))] == 5
    assert got[("ad_computer_accounts", (DOMAIN, "false"))] == 1
    assert got[("ad_computer_password_stale_accounts", (DOMAIN, "45"))] == 2
    assert got[("ad_computer_password_stale_accounts", (DOMAIN, "90"))] == 2
    assert got[("ad_computer_password_stale_accounts", (DOMAIN, "180"))] == 1
    assert got[("ad_computer_account_present", (DOMAIN, "GONE"))] == 0
    assert got[("ad_computer_account_enabled", (DOMAIN, "GONE"))] == 0
    assert ("ad_computer_password_last_set_timestamp_seconds", (DOMAIN, "GONE")) not in got
    assert got[("ad_computer_account_present", (DOMAIN, "PC-DISABLED"))] == 1
    assert got[("ad_computer_account_enabled", (DOMAIN, "PC-DISABLED"))] == 0
    assert got[("ad_computer_account_enabled", (DOMAIN, "DC1"))] == 1
    assert got[("ad_computer_password_last_set_timestamp_seconds", (DOMAIN, "FS01"))] == pytest.approx(NOW - 100 * DAY)
    assert got[("ad_krbtgt_password_last_set_timestamp_seconds", (DOMAIN,))] == pytest.approx(NOW - 30 * DAY)
    for (name, labels), _ in got.items():
        assert len(labels) == len(m.BY_NAME[name].labels)


def test_must_change_password_has_no_timestamp_series() -> None:
    result = result_for(dc_entries() + [computer("FS01", 0)], watched=("FS01",))
    names = {(s.metric.name, s.labels) for s in accounts_samples.series(DOMAIN, result)}
    assert ("ad_computer_password_last_set_timestamp_seconds", (DOMAIN, "FS01")) not in names
    assert ("ad_computer_account_present", (DOMAIN, "FS01")) in names


def test_missing_krbtgt_is_reported_not_fatal() -> None:
    result = result_for(standard_entries(), krbtgt_days=None)
    assert result.krbtgt is None
    assert m.KRBTGT_PASSWORD_LAST_SET not in {s.metric for s in accounts_samples.series(DOMAIN, result)}
    assert any("krbtgt" in f.message for f in accounts_report.findings(result))


def test_findings_name_the_account_and_the_fix() -> None:
    result = result_for(standard_entries())
    by_subject = {f.subject: f for f in accounts_report.findings(result)}
    assert by_subject["GONE"].severity == "error" and "does not exist" in by_subject["GONE"].message
    gone, disabled, fs01 = (by_subject[s].fix or "" for s in ("GONE", "PC-DISABLED", "FS01"))  # "": no fix
    assert "Add-Computer -DomainName lab.example" in gone
    assert disabled.startswith("Enable-ADAccount -Identity 'PC-DISABLED$'")
    assert "100 days ago" in by_subject["FS01"].message
    assert fs01.startswith(f"on FS01: Reset-ComputerMachinePassword -Server dc1.{DOMAIN} -Credential (Get-Credential)")
    assert "200 days ago" in by_subject["PC-PWD200D"].message
    assert "PC-HEALTHY" not in by_subject and "DC1" not in by_subject
    assert DOMAIN not in by_subject  # every stale account is listed one by one: no "more" line


def test_findings_summarise_beyond_the_listed_examples() -> None:
    entries = dc_entries() + [computer(f"PC{i:03d}", ago(60 + i)) for i in range(30)]
    result = result_for(entries, watched=())
    listed = [f for f in accounts_report.findings(result) if f.subject.startswith("PC")]
    assert len(listed) == accounts.EXAMPLES_LIMIT
    more = next(f for f in accounts_report.findings(result) if f.subject == DOMAIN)
    assert more.message.startswith(f"{30 - accounts.EXAMPLES_LIMIT} more enabled computer accounts")


def test_dc_without_computer_account_is_an_error() -> None:
    result = result_for([computer("DC1", ago(1), dn=INVENTORY.domain_controllers[0].computer_dn, uac=0x82000)],
                        watched=())
    dc2 = next(w for w in result.watched if w.computer == "DC2")
    assert not dc2.present
    finding = next(f for f in accounts_report.findings(result) if f.subject == "DC2")
    assert finding.severity == "error" and "DC dc2.lab.example's computer account" in finding.message


def test_summary_lines() -> None:
    lines = accounts_report.summary(result_for(standard_entries()))
    assert lines[0] == f"read from dc1.{DOMAIN}: 5 enabled and 1 disabled computer accounts"
    assert "enabled with a machine password older than 90 days: 2" in lines
    assert any(line.startswith("GONE$") and "MISSING" in line for line in lines)
