#!/usr/bin/env bash
# Installs everything the exporter, its tests, the lab and the demo need on Debian 12, as root:
# the Debian packages (Samba AD DC, ldap-utils, faketime, chrony, Prometheus, Alertmanager, ...)
# and a virtualenv in .venv with the exporter and its test dependencies.
# Safe to run again: packages already present are not fetched twice.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: run as root (apt-get, and the lab needs network namespaces)" >&2
    exit 1
fi

mapfile -t PACKAGES < <(grep -hv '^\s*\(#\|$\)' "$ROOT/lab/packages.txt" "$ROOT/scripts/packages.txt" | sort -u)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    echo "install-deps: installing ${#missing[@]} Debian package(s): ${missing[*]}"
    # Installing must not start daemons on this host (chronyd would start adjusting its clock,
    # samba would claim ports): a policy-rc.d that says 101 stops invoke-rc.d.
    created_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    trap '[[ -n "$created_policy" ]] && rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's python3 with --system-site-packages: the lab and the GSSAPI bind and probe use Debian's
# python3-samba and python3-gssapi, which have no wheels on PyPI.
if [[ ! -x "$VENV/bin/python" ]]; then
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
# The kerberos extra: the kerberos check's KDC probe (pykrb5, built here against libkrb5-dev) and the
# Kerberos bind, so no Kerberos test is skipped for a missing binding.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test,kerberos]"
echo "install-deps: ready ($("$VENV/bin/python" --version), venv $VENV)"
