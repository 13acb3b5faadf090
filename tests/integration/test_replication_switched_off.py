"""Replication switched off on a DC, against the live lab: outbound off on dc2 never reaches dc1 (the
DC the topology is read from), so the exporter must read dc2's own copy of its nTDSDSA options."""

from __future__ import annotations

from adlab import Lab
from support.exporter import RunningExporter, Scrape, samples
from support.lab import wait_replication_healthy


def disabled(scrape: Scrape, host: str) -> dict[str, float]:
    return {lbl["direction"]: v for lbl, v in
            samples(scrape, "ad_domain_controller_replication_disabled", domain_controller=host)}


def test_outbound_switched_off_is_read_from_the_dc_itself(lab: Lab, exporter: RunningExporter) -> None:
    dc1, dc2 = lab.info.dcs["dc1"].fqdn, lab.info.dcs["dc2"].fqdn
    off = {"inbound": 0.0, "outbound": 0.0}
    exporter.wait_for(lambda s: disabled(s, dc1) == off and disabled(s, dc2) == off, 60, "replication on everywhere")
    assert lab.disable_replication("dc2", "outbound") == ("outbound",)
    try:
        exporter.wait_for(lambda s: disabled(s, dc2) == {"inbound": 0.0, "outbound": 1.0} and disabled(s, dc1) == off,
                          30, "dc2 outbound replication disabled, dc1 untouched")
        # dc1 still holds dc2's options as they were: the change cannot leave dc2.
        ntds = lab.info.dcs["dc2"].ntds_dn
        held = lab.run("dc1", ["ldbsearch", "-H", str(lab.cfg.sam_ldb("dc1")), "-b", ntds, "-s", "base", "options"])
        assert "options: 1\n" in held.stdout, held.stdout
    finally:
        lab.enable_replication("dc2", "outbound")
    exporter.wait_for(lambda s: disabled(s, dc2) == off, 30, "dc2 outbound replication on again")
    # dc1's pulls from dc2 failed meanwhile (8456): leave the links clean.
    wait_replication_healthy(lab, exporter, 60, pull_after=20)
