# The Credence worker / CLI image (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY config ./config
COPY credence ./credence
COPY streams ./streams
COPY detectors ./detectors
COPY producers ./producers
RUN pip install --no-cache-dir .
USER nobody
ENV CREDENCE_HOME=/tmp/credence
ENTRYPOINT ["credence"]
CMD ["worker"]
