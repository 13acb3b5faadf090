# A working image of the exporter. Configuration and secrets are mounted at run time:
#   docker run -v /etc/ad-health-exporter:/etc/ad-health-exporter:ro -p 10088:10088 ad-health-exporter
FROM python:3.11-slim-bookworm

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install --no-cache-dir . && rm -rf /src

USER 65534:65534
EXPOSE 10088
ENTRYPOINT ["ad-health-exporter"]
CMD ["--config.file=/etc/ad-health-exporter/config.yml"]
