# Production image: slim, non-root; applies migrations, then serves on 0.0.0.0:8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    KEFU_ENV=production KEFU_DATABASE_URL=sqlite+aiosqlite:////data/kefu.db

RUN useradd --create-home --uid 10001 kefu && mkdir /data && chown kefu /data
WORKDIR /srv/kefu
COPY pyproject.toml README.md ./
COPY app ./app
COPY adapters ./adapters
COPY faq ./faq
COPY routing ./routing
RUN pip install .

USER kefu
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["sh", "-c", "kefu migrate && exec kefu serve --host 0.0.0.0 --port 8000"]
