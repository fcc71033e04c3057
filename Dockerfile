# newsalert: the daemon in a small image. Secrets come from the environment at run time only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSALERT_CONFIG=/app/config \
    NEWSALERT_STORE=/data/newsalert.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
# The same install steps as the README (upgrade pip first: old pips mis-resolve lxml extras).
RUN python -m pip install --upgrade "pip==26.3" \
 && python -m pip install . \
 && useradd --system --uid 10001 --home-dir /data --create-home newsalert
COPY config ./config

USER 10001
VOLUME ["/data"]
EXPOSE 9464
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 CMD ["newsalert", "health"]
ENTRYPOINT ["newsalert"]
CMD ["run"]
