"""What the tests share, one module per job.

- ``builders``: the domain, DCs, inventories and check contexts a unit test runs a check in.
- ``directory``: one scriptable fake directory (``DirectoryAccess``) and its connections.
- ``resolver``: a DNS resolver that answers from tables, for one server or several.
- ``exporter``: a real exporter process (start, scrape, wait, stop) and the ``check`` command.
- ``lab``: the exporter configuration for the Samba lab, its short intervals, and the lab waits.
- ``labdns``: make a lab DC's A record dynamic for a while.
- ``pki``: a throw-away certificate authority.
- ``wait``: poll until something holds, or fail saying what was awaited.

pytest puts ``tests/`` on ``sys.path`` (``tests/conftest.py`` is in no package), and mypy finds
it through ``mypy_path``: tests import ``support.<module>``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The lab (lab/adlab) and the scripts the tests drive (scripts/) are no installed packages;
# importing any support module makes them importable, before a test module needs them.
for _path in (ROOT / "lab", ROOT / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
