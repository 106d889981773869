# One image for every role (web, workers, beat, migrate); docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump must match the server's major version for the provisioning fast path (PostgreSQL 15
# in docker-compose.yml); without it provisioning falls back to migrations.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Runtime lock only (no test/lint tools or embedded servers), every file checked against its hash.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt
COPY . .
RUN DEBUG=1 python manage.py collectstatic --noinput

RUN useradd --create-home app
USER app
EXPOSE 8000
CMD ["gunicorn", "saas.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
