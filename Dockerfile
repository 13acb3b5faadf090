# ad-health-exporter container image.
#
#   docker build -t ad-health-exporter .
#   docker run --read-only -p 10088:10088 \
#     -v /etc/ad-health-exporter:/etc/ad-health-exporter:ro ad-health-exporter
#
# Configuration and secrets (bind password or keytab, CA file, web config) are mounted at
# run time; nothing secret is baked into the image. See deploy/ and docs/security.md.
#
# The base image is pinned to a Python patch release. To pin it to the byte, add its digest:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
# and write python:3.11.14-slim-bookworm@sha256:<digest> below.

# --- build: a virtualenv with the exporter and its dependencies (gssapi and krb5 are compiled here) ---
# The image carries the kerberos extra: the kerberos check (on by default) probes every DC's KDC through
# MIT krb5's bindings, and a keytab bind needs gssapi.
FROM python:3.11.14-slim-bookworm AS build

# Versions of Debian packages are not pinned: the security archive replaces them, so a pin
# would break the build at the next update; the base image fixes the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libkrb5-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN python -m venv /opt/ad-health-exporter \
    && /opt/ad-health-exporter/bin/pip install --no-cache-dir ".[kerberos]"

# --- run: the virtualenv, the Kerberos runtime library, an unprivileged user ---
# libgssapi-krb5-2 brings MIT's libkrb5-3, which krb5 (the KDC probe) links against.
FROM python:3.11.14-slim-bookworm

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgssapi-krb5-2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10088 --user-group --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin ad-health-exporter

COPY --from=build /opt/ad-health-exporter /opt/ad-health-exporter

# KRB5CCNAME: a Kerberos bind keeps its tickets in process memory, never in a file.
ENV PATH=/opt/ad-health-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KRB5CCNAME=MEMORY:ad-health-exporter

USER 10088:10088
EXPOSE 10088

# Speaks HTTPS when --web.config.file enables TLS; /-/healthy needs no basic auth.
HEALTHCHECK --interval=30s --timeout=10s --start-period=15s --retries=3 \
    CMD ["ad-health-exporter", "healthcheck", "--web.listen-address=:10088"]

ENTRYPOINT ["ad-health-exporter"]
CMD ["--config.file=/etc/ad-health-exporter/config.yml"]
