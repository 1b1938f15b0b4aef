# TowerBot: docker build -t towerbot . && docker run --env-file .env -v towerbot-data:/data towerbot
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TOWERBOT_DB=/data/towerbot.sqlite3
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY schedules ./schedules
RUN pip install --no-cache-dir . && useradd --system --home /data towerbot \
    && mkdir -p /data && chown towerbot /data
USER towerbot
VOLUME /data
# webhook mode listens on TOWERBOT_WEBHOOK_PORT (default 8443); polling needs no port
EXPOSE 8443
STOPSIGNAL SIGTERM
CMD ["towerbot", "run"]
