# hookrelay: the relay service (receiver + delivery workers) in one container.
#
#   docker build -t hookrelay .
#   docker run -p 8080:8080 -v hookrelay-data:/data \
#     -e HOOKRELAY_TRACKER_URL=https://tracker.example/services/v5 \
#     -e HOOKRELAY_TRACKER_TOKEN=... -e HOOKRELAY_GITHUB_SECRET=... hookrelay
#
# The image listens on 0.0.0.0, so it needs HOOKRELAY_TRACKER_URL: without one, `serve` stops
# at start-up (exit 78) naming it. For a demo with the built-in Tracker emulator instead, run
# `docker run -p 127.0.0.1:8080:8080 hookrelay serve --emulator` (keep the port on loopback:
# the emulator's token is printed for anyone to use).
#
# The embedded SQLite queue (and the emulator's stories) live in the /data volume; set
# HOOKRELAY_DATABASE_URL to a postgresql:// URL to share one queue between replicas.
#
# Every Python package is installed from requirements*.lock with its hash (scripts/lock writes
# them), so two builds install the same bytes. BASE_IMAGE is any Debian-like image with
# python3 (3.11+) and its venv module; the default is Docker Hub's.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# The locks first, so the dependencies stay cached while the code changes.
COPY requirements.lock requirements-build.lock ./
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements-build.lock \
    && python3 -m venv /opt/hookrelay \
    && /opt/hookrelay/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.lock
# Only what the wheel is built from, so edits to tests or docs do not bust the cache.
COPY pyproject.toml README.md ./
COPY hooks ./hooks
COPY hookrelay ./hookrelay
RUN /opt/build/bin/python -m hatchling build --target wheel \
    && /opt/hookrelay/bin/pip install --no-cache-dir --no-deps dist/*.whl

FROM ${BASE_IMAGE}
ENV PATH=/opt/hookrelay/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOOKRELAY_DATABASE_URL=sqlite:////data/hookrelay.db \
    HOOKRELAY_HOST=0.0.0.0 \
    HOOKRELAY_PORT=8080
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin hookrelay \
    && mkdir -p /data \
    && chown hookrelay:hookrelay /data \
    && chmod 0700 /data
COPY --from=build /opt/hookrelay /opt/hookrelay
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# The standard library only: the image has no curl, and the port follows HOOKRELAY_PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HOOKRELAY_PORT', '8080'), timeout=4)"]
# uvicorn and the workers stop gracefully on SIGTERM (what `docker stop` sends).
STOPSIGNAL SIGTERM
# The same command the README's quick start runs (scripts/run ends in it).
ENTRYPOINT ["hookrelay"]
CMD ["serve"]
