# One image for every relops process (migrate, workers, beat, flower); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELOPS_CONFIG=/app/relops.toml

WORKDIR /app
# Third-party packages only from the lock, each checked against its hashes (a layer of its own, kept
# while only relops' code changes); then relops and its client from this checkout, never from an index.
COPY requirements.lock /app/
RUN pip install --require-hashes -r requirements.lock
COPY . /app
RUN pip install --no-deps --no-index --no-build-isolation ./clients/python . \
    && pip check \
    && useradd --system --uid 10001 --home-dir /app relops \
    && mkdir -p /app/var \
    && chown relops /app/var

# Celery refuses to be comfortable as root; var/ (beat's schedule) is the only place it writes.
USER relops

CMD ["relops", "--help"]
