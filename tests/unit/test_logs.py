from __future__ import annotations

import io
import json
import logging

from ad_health_exporter import logs


def test_logfmt_quotes_and_fields() -> None:
    stream = io.StringIO()
    logs.setup("debug", "logfmt", stream)
    logging.getLogger("t").warning("check failed", extra={"domain": "lab.example", "reason": 'say "no"\nnow'})
    line = stream.getvalue().strip()
    assert "level=warn" in line and 'msg="check failed"' in line and "domain=lab.example" in line
    assert 'reason="say \\"no\\"\\nnow"' in line
    assert "\n" not in line


def test_json_lines() -> None:
    stream = io.StringIO()
    logs.setup("info", "json", stream)
    logging.getLogger("t").debug("hidden")
    logging.getLogger("t").info("shown", extra={"check": "spn"})
    (line,) = stream.getvalue().strip().splitlines()
    record = json.loads(line)
    assert record["msg"] == "shown" and record["check"] == "spn" and record["level"] == "info"
