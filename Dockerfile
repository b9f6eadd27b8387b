# One image for every relops process (migrate, workers, beat, flower); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELOPS_CONFIG=/app/relops.toml

WORKDIR /app
COPY . /app
RUN pip install ./clients/python . \
    && useradd --system --uid 10001 --home-dir /app relops \
    && mkdir -p /app/var \
    && chown relops /app/var

# Celery refuses to be comfortable as root; var/ (beat's schedule) is the only place it writes.
USER relops

CMD ["relops", "--help"]
