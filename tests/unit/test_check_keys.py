"""Keys check: which accounts, how each DC's copy is read and compared, the domain-wide count,
series, findings and settings. The values are the lab's (msDS-KeyVersionNumber and pwdLastSet as
dc1 and dc2 returned them with dc2's inbound replication off and PC-HEALTHY$ reset on dc1)."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from ad_health_exporter import config
from ad_health_exporter import metrics as m
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.checks.accounts.settings import AccountsSettings
from ad_health_exporter.checks.base import CheckFailed
from ad_health_exporter.checks.keys import read, report, series
from ad_health_exporter.checks.keys.model import (
    KeyReading,
    RecentPassword,
    Target,
    compare_recent,
    judge,
    unresolved_names,
)
from ad_health_exporter.checks.keys.settings import KeysSettings
from ad_health_exporter.checks.keys.targets import targets, wanted
from ad_health_exporter.checks.spn.settings import ExpectedSpn, SpnSettings
from ad_health_exporter.config import ConfigError
from ad_health_exporter.formats.filetime import unix_to_filetime
from ad_health_exporter.ldap import Entry, LdapError
from support.builders import DOMAIN_DN, context, dc, domain_config, inventory
from support.directory import FakeDc, FakeDirectory

DC1, DC2 = "dc1.lab.example", "dc2.lab.example"
HEALTHY_GUID = uuid.UUID("9e870c75-370c-4187-8727-21cc886a64f2")
KRBTGT_GUID = uuid.UUID("0b0c8a4e-3b1e-4d33-9d5a-6b1f0d0e7a11")
DC1_ACCOUNT_GUID = uuid.UUID("5a7d3c1e-2f4b-4c8d-9e0f-1a2b3c4d5e6f")
HEALTHY_DN = f"CN=PC-HEALTHY,CN=Computers,{DOMAIN_DN}"
# pwdLastSet of PC-HEALTHY$ on dc1 after the reset, and on dc2 (the password before it)
NEW_PWD, OLD_PWD = 134408849184782000, 134408847464568000
NOW = 1_796_410_000.0  # shortly after both


def entry(dn: str, **attrs: str | bytes | list[str]) -> Entry:
    values: dict[str, list[bytes]] = {}
    for name, value in attrs.items():
        items = value if isinstance(value, list) else [value]
        values[name.lower()] = [v if isinstance(v, bytes) else v.encode() for v in items]
    return Entry(dn, values)


def key(kvno: int | None, pwd: int | None) -> KeyReading:
    return KeyReading(kvno, pwd)


def target(account: str = "PC-HEALTHY$") -> Target:
    return Target(account, f"<GUID={HEALTHY_GUID}>", HEALTHY_DN, ("watched computer",))


# --- judging one account -----------------------------------------------------------------------


def test_copies_that_agree_are_no_divergence() -> None:
    v = judge(target(), {DC1: key(3, NEW_PWD), DC2: key(3, NEW_PWD)})
    assert not v.divergent and v.comparable
    assert v.newest == (DC1, DC2) and v.outdated == ()


def test_the_dc_with_the_lower_key_version_is_outdated() -> None:
    v = judge(target(), {DC1: key(4, NEW_PWD), DC2: key(1, OLD_PWD)})
    assert v.divergent and v.newest == (DC1,) and v.outdated == (DC2,)
    # Whichever DC is listed first.
    v = judge(target(), {DC2: key(1, OLD_PWD), DC1: key(4, NEW_PWD)})
    assert v.newest == (DC1,) and v.outdated == (DC2,) and v.compared == (DC2, DC1)


def test_a_dc_that_lacks_the_account_is_outdated() -> None:
    v = judge(target(), {DC1: key(1, NEW_PWD), DC2: None})
    assert v.divergent and v.outdated == (DC2,)


def test_without_a_key_version_everywhere_pwdlastset_decides() -> None:
    # A DC that returns no msDS-KeyVersionNumber must not look outdated for that alone.
    v = judge(target(), {DC1: key(None, NEW_PWD), DC2: key(7, NEW_PWD)})
    assert not v.divergent
    v = judge(target(), {DC1: key(None, NEW_PWD), DC2: key(7, OLD_PWD)})
    assert v.newest == (DC1,) and v.outdated == (DC2,)


def test_same_key_version_but_another_password_time_is_a_divergence() -> None:
    v = judge(target(), {DC1: key(2, NEW_PWD), DC2: key(2, OLD_PWD)})
    assert v.divergent and v.newest == (DC1,)


def test_an_account_no_dc_has_is_no_divergence_and_one_dc_is_no_comparison() -> None:
    assert not judge(target(), {DC1: None, DC2: None}).divergent
    alone = judge(target(), {DC1: key(1, NEW_PWD)})
    assert not alone.comparable and not alone.divergent


# --- the domain-wide count -----------------------------------------------------------------------


def recent(account: str, pwd: int, enabled: bool = True) -> RecentPassword:
    return RecentPassword(account, pwd, enabled)


def test_domain_wide_count_compares_what_each_dc_returned() -> None:
    a, b, c, d = (bytes([i]) * 16 for i in range(4))
    changed, divergent, examples = compare_recent({
        DC1: {a: recent("A$", NEW_PWD), b: recent("B$", NEW_PWD), c: recent("C$", NEW_PWD + 10),
              d: recent("D$", NEW_PWD, enabled=False)},
        # b: dc2 holds an older one, before the cutoff; c: both recent, different; d: disabled.
        DC2: {a: recent("A$", NEW_PWD), c: recent("C$", NEW_PWD)},
    })
    assert (changed, divergent) == (3, 2)
    assert [e.account for e in examples] == ["C$", "B$"]  # the newest first
    assert examples[0].newest_on == (DC1,) and examples[0].others == ((DC2, NEW_PWD),)
    assert examples[1].others == ((DC2, None),)


def test_domain_wide_newest_copy_may_be_on_any_dc_and_examples_are_capped() -> None:
    guids = [uuid.uuid4().bytes for _ in range(30)]
    changed, divergent, examples = compare_recent(
        {DC1: {}, DC2: {g: recent(f"PC{i}$", NEW_PWD + i) for i, g in enumerate(guids)}}, limit=5)
    assert (changed, divergent, len(examples)) == (30, 30, 5)
    assert all(e.newest_on == (DC2,) for e in examples)
    assert compare_recent({DC1: {}, DC2: {}}) == (0, 0, ())


def test_recent_passwords_skips_entries_without_guid_or_time() -> None:
    found = read.recent_passwords([
        entry(HEALTHY_DN, objectGUID=HEALTHY_GUID.bytes_le, sAMAccountName="PC-HEALTHY$", pwdLastSet=str(NEW_PWD),
              userAccountControl="4096"),
        entry(f"CN=X,{DOMAIN_DN}", sAMAccountName="X$", pwdLastSet=str(NEW_PWD)),
        entry(f"CN=Y,{DOMAIN_DN}", objectGUID=b"y" * 16, sAMAccountName="Y$", userAccountControl="4098",
              pwdLastSet=str(NEW_PWD)),
    ])
    assert found[HEALTHY_GUID.bytes_le] == RecentPassword("PC-HEALTHY$", NEW_PWD, True)
    assert found[b"y" * 16].enabled is False and len(found) == 2


def test_recent_filter_asks_for_computers_changed_since_the_cutoff() -> None:
    cutoff = unix_to_filetime(NOW)
    assert read.recent_filter(cutoff) == f"(&(objectCategory=computer)(pwdLastSet>={cutoff}))"


# --- which accounts ------------------------------------------------------------------------------


def domain_with(watched: tuple[str, ...] = (), expected: tuple[ExpectedSpn, ...] = ()):
    base = domain_config()
    return config.DomainConfig(
        name=base.name, bind=base.bind,
        settings={"accounts": AccountsSettings(watched_computers=watched), "spn": SpnSettings(expected=expected)},
    )


def test_wanted_accounts_come_from_the_inventory_and_the_other_checks_settings() -> None:
    inv = inventory(dc(DC1, pdc=True), dc(DC2))
    want = wanted(domain_with(("PC-HEALTHY",), (ExpectedSpn("http/app.lab.example", "svc_app"),)), inv,
                  KeysSettings(accounts=("svc_sql(x)",)))
    f = want.filter()
    assert f.startswith("(|") and "(sAMAccountName=krbtgt)" in f and "(sAMAccountName=pc-healthy$)" in f
    assert "(servicePrincipalName=http/app.lab.example)" in f and "(sAMAccountName=svc_app)" in f
    assert f"(distinguishedName=CN=DC1,OU=Domain Controllers,{DOMAIN_DN})" in f
    assert r"(sAMAccountName=svc_sql\28x\29)" in f  # escaped, never a filter of its own
    assert want.configured == ("PC-HEALTHY$", "svc_sql(x)")


def test_targets_carry_every_reason_and_read_by_guid() -> None:
    inv = inventory(dc(DC1, pdc=True), dc(DC2))
    want = wanted(domain_with(("PC-HEALTHY",), (ExpectedSpn("HOST/pc-healthy.lab.example", "PC-HEALTHY"),
                                                 ExpectedSpn("http/app.lab.example", "svc_app"))), inv, KeysSettings())
    found = targets(want, [
        entry(HEALTHY_DN, sAMAccountName="PC-HEALTHY$", objectGUID=HEALTHY_GUID.bytes_le,
              servicePrincipalName=["HOST/pc-healthy.lab.example", "HOST/PC-HEALTHY"]),
        entry(f"CN=krbtgt,CN=Users,{DOMAIN_DN}", sAMAccountName="krbtgt", objectGUID=KRBTGT_GUID.bytes_le),
        entry(f"CN=DC1,OU=Domain Controllers,{DOMAIN_DN}", sAMAccountName="DC1$", objectGUID=DC1_ACCOUNT_GUID.bytes_le),
        entry(f"CN=Other,{DOMAIN_DN}", sAMAccountName="other"),
    ])
    assert [t.account for t in found] == ["DC1$", "krbtgt", "PC-HEALTHY$"]  # DCs first
    healthy = found[2]
    assert healthy.ref == f"<GUID={HEALTHY_GUID}>" and healthy.dn == HEALTHY_DN
    assert healthy.reasons == ("watched computer (accounts.watched_computers)", "holds HOST/pc-healthy.lab.example")
    assert found[0].reasons == (f"domain controller {DC1}",)
    assert unresolved_names(want.configured, [t.account for t in found]) == ()
    assert unresolved_names(("FS01$", "svc_x"), ["krbtgt"]) == ("FS01$", "svc_x")


# --- a whole run against a fake directory ------------------------------------------------------------


def two_dcs(dc2_kvno: int = 1, dc2_pwd: int = OLD_PWD) -> tuple[FakeDirectory, object]:
    inv = inventory(dc(DC1, pdc=True), dc(DC2))
    settings = KeysSettings()
    want = wanted(domain_with(("PC-HEALTHY",)), inv, settings)
    found = [
        entry(HEALTHY_DN, sAMAccountName="PC-HEALTHY$", objectGUID=HEALTHY_GUID.bytes_le),
        entry(f"CN=krbtgt,CN=Users,{DOMAIN_DN}", sAMAccountName="krbtgt", objectGUID=KRBTGT_GUID.bytes_le),
    ]
    recent_f = read.recent_filter(unix_to_filetime(NOW - settings.look_back))

    def dc_view(kvno: int, pwd: int) -> FakeDc:
        healthy = entry(HEALTHY_DN, **{"msDS-KeyVersionNumber": str(kvno), "pwdLastSet": str(pwd)})
        krbtgt = entry(f"CN=krbtgt,CN=Users,{DOMAIN_DN}", **{"msDS-KeyVersionNumber": "1", "pwdLastSet": str(OLD_PWD)})
        changed = [entry(HEALTHY_DN, objectGUID=HEALTHY_GUID.bytes_le, sAMAccountName="PC-HEALTHY$",
                         pwdLastSet=str(pwd), userAccountControl="4096")] if pwd == NEW_PWD else []
        return FakeDc(answers={want.filter(): found, recent_f: changed},
                      objects={f"<GUID={HEALTHY_GUID}>": healthy, f"<GUID={KRBTGT_GUID}>": krbtgt})

    directory = FakeDirectory({DC1: dc_view(4, NEW_PWD), DC2: dc_view(dc2_kvno, dc2_pwd)})
    ctx = context(settings, directory, inventory=inv, domain=domain_with(("PC-HEALTHY",)), clock=lambda: NOW,
                  interval=300.0)
    return directory, ctx


def test_run_reads_each_account_on_every_dc_by_guid_and_finds_the_old_key() -> None:
    directory, ctx = two_dcs()
    result = read.run(ctx)  # type: ignore[arg-type]
    assert {(r.host, r.dn) for r in directory.reads} == {
        (h, f"<GUID={g}>") for h in (DC1, DC2) for g in (HEALTHY_GUID, KRBTGT_GUID)}
    verdicts = {v.account: v for v in result.verdicts}
    assert verdicts["PC-HEALTHY$"].newest == (DC1,) and verdicts["PC-HEALTHY$"].outdated == (DC2,)
    assert not verdicts["krbtgt"].divergent
    assert result.domain_wide is not None and (result.domain_wide.changed, result.domain_wide.divergent) == (1, 1)

    samples = {(s.metric.name, s.labels): s.value for s in series.series("lab.example", result)}
    assert samples[(m.ACCOUNT_KEY_VERSION.name, ("lab.example", DC1, "PC-HEALTHY$"))] == 4
    assert samples[(m.ACCOUNT_KEY_VERSION.name, ("lab.example", DC2, "PC-HEALTHY$"))] == 1
    assert samples[(m.ACCOUNT_KEY_DIVERGENT.name, ("lab.example", "PC-HEALTHY$"))] == 1
    assert samples[(m.ACCOUNT_KEY_DIVERGENT.name, ("lab.example", "krbtgt"))] == 0
    assert samples[(m.COMPUTER_PASSWORD_DIVERGENT.name, ("lab.example",))] == 1
    pwd_dc2 = samples[(m.ACCOUNT_PASSWORD_LAST_SET.name, ("lab.example", DC2, "PC-HEALTHY$"))]
    pwd_dc1 = samples[(m.ACCOUNT_PASSWORD_LAST_SET.name, ("lab.example", DC1, "PC-HEALTHY$"))]
    assert pwd_dc1 - pwd_dc2 == pytest.approx((NEW_PWD - OLD_PWD) / 1e7)

    found = [f for f in report.findings(result) if f.subject == "PC-HEALTHY$"]
    assert len(found) == 1 and found[0].severity == "error"
    assert f"{DC2} key version 1" in found[0].message and f"{DC1} key version 4" in found[0].message
    dsa_dc1 = str(ctx.inventory.dc(DC1).dsa_guid)  # type: ignore[attr-defined]
    assert f'repadmin /replsingleobj {DC2} {dsa_dc1} "{HEALTHY_DN}"' in (found[0].fix or "")
    assert "klist purge" in (found[0].fix or "")
    table = report.summary(result)
    assert any(line.split()[:4] == ["PC-HEALTHY$", "4", "1", "NO"] for line in table), table


def test_healthy_domain_has_no_finding() -> None:
    directory, ctx = two_dcs(dc2_kvno=4, dc2_pwd=NEW_PWD)
    result = read.run(ctx)  # type: ignore[arg-type]
    assert report.findings(result) == []
    assert result.domain_wide is not None and result.domain_wide.divergent == 0
    assert all(not v.divergent for v in result.verdicts)


def test_a_dc_that_cannot_be_read_costs_its_part_and_fails_the_comparison() -> None:
    directory, ctx = two_dcs()
    directory.dcs[DC2].search_failure = "connection refused"
    with pytest.raises(CheckFailed) as failed:
        read.run(ctx)  # type: ignore[arg-type]
    assert "fewer than two DCs" in str(failed.value) and "connection refused" in str(failed.value)
    partial = failed.value.partial
    samples = {(s.metric.name, s.labels): s.value for s in series.series("lab.example", partial)}  # type: ignore[arg-type]
    assert samples[(m.DC_CHECK_SUCCESS.name, ("lab.example", DC2, "keys"))] == 0
    assert samples[(m.ACCOUNT_KEY_VERSION.name, ("lab.example", DC1, "PC-HEALTHY$"))] == 4
    # No comparison, so no verdict: never a 0 that reads as "they agree".
    assert not [k for k in samples if k[0] in (m.ACCOUNT_KEY_DIVERGENT.name, m.COMPUTER_PASSWORD_DIVERGENT.name)]
    warn = [f for f in report.findings(partial) if f.subject == DC2]  # type: ignore[arg-type]
    assert warn and "connection refused" in warn[0].message


def test_no_dc_can_find_the_accounts() -> None:
    directory, ctx = two_dcs()
    for fake in directory.dcs.values():
        fake.answers = {k: LdapError("x", "busy") for k in fake.answers}
    with pytest.raises(Exception, match="cannot find the accounts to compare on any DC"):
        read.run(ctx)  # type: ignore[arg-type]


# --- settings ------------------------------------------------------------------------------------


def load(tmp_path: Path, section: str) -> config.DomainConfig:
    (tmp_path / "pw").write_text("pw\n")
    path = tmp_path / "c.yml"
    path.write_text(textwrap.dedent("""\
        domains:
          - name: lab.example
            bind: {user: m@lab.example, password_file: pw}
        """) + textwrap.indent(section, "    "))
    return config.load(path, CHECKS).domains[0]


def test_settings_defaults_and_values(tmp_path: Path) -> None:
    assert load(tmp_path, "").settings["keys"] == KeysSettings()
    got = load(tmp_path,
               "keys: {accounts: ['LAB\\\\svc_sql', svc_sql, gMSA-web$], domain_wide: false, look_back: 3d}\n")
    assert got.settings["keys"] == KeysSettings(accounts=("svc_sql", "gMSA-web$"), domain_wide=False,
                                                look_back=3 * 86400.0)


@pytest.mark.parametrize("section, words", [
    ("keys: {look_back: 30s}\n", "keys.look_back"),
    ("keys: {accounts: ['a,b']}\n", "keys.accounts[0]"),
    ("keys: {lookback: 1d}\n", "lookback"),
])
def test_settings_errors_name_the_key(tmp_path: Path, section: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load(tmp_path, section)
