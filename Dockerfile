# syntax=docker/dockerfile:1
# One image for web, worker and beat (docker-compose.yml picks the command).

# The dashboard's charting library comes from the npm registry, pinned by package-lock.json.
FROM node:20-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY pilots/dashboard/build_sichuan_map.js pilots/dashboard/
RUN node pilots/dashboard/build_sichuan_map.js /build/sichuan-map.js

FROM python:3.11-slim

# PYTHONPATH: gunicorn, celery and manage.py all import the source tree in /app (with its templates,
# static files and locale), never a second copy in site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The worker writes the quarterly bulletin: LibreOffice Writer turns its Word file into PDF, and its charts and
# PDF need a font with Chinese characters (found through fontconfig).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libreoffice-writer-nogui fonts-noto-cjk fontconfig \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, pinned by the lock file, so that a code change reuses this layer.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -c requirements.lock -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY . .
COPY --from=assets /build/node_modules/echarts/dist/echarts.min.js pilots/static/vendor/echarts/echarts.min.js
COPY --from=assets /build/sichuan-map.js pilots/static/vendor/sichuan/sichuan-map.js
RUN pip install --no-deps -c requirements.lock . \
 && DEBUG=false SECRET_KEY=collectstatic-at-build-time-only-never-used-to-serve-requests \
        python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin smartcity \
 && mkdir -p /app/var/media \
 && chown -R smartcity:smartcity /app/var

USER smartcity
EXPOSE 8000
# docker-compose.yml runs worker and beat from this image with their own commands and healthchecks.
CMD ["gunicorn", "smartcity.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", \
     "--access-logfile", "-", "--error-logfile", "-", "--no-control-socket"]
