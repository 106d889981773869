#!/bin/bash
# The commands docker-compose.yml's services run (migrate, web, workers, beat), without Docker,
# on a fresh database (local PostgreSQL and Redis, psql and redis-cli on PATH), with DEBUG=0: after 75 s /healthz must answer 200 with
# a recent beat heartbeat, and the admin's CSS must be served. Usage: make compose-check
set -u
LOGS=$(mktemp -d)
echo "logs in $LOGS"
cd "$(dirname "$0")/.."
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/saas_compose REDIS_URL=redis://127.0.0.1:6379/7
export DEBUG=0 SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')"
export BASE_DOMAIN=localhost SITE_PORT=8077 SECURE_SSL_REDIRECT=0 SECURE_COOKIES=0 
psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS saas_compose" -c "CREATE DATABASE saas_compose"
redis-cli -n 7 flushdb >/dev/null
PY=.venv/bin/python
$PY manage.py platform_init > "$LOGS"/migrate.log 2>&1; echo "migrate rc=$?"
$PY manage.py collectstatic --noinput > "$LOGS"/static.log 2>&1; echo "collectstatic rc=$?"
.venv/bin/gunicorn saas.wsgi:application --bind 127.0.0.1:8077 --workers 2 > "$LOGS"/web.log 2>&1 &
WEB=$!
.venv/bin/celery -A saas worker -Q short -c 2 -n short@compose --loglevel INFO > "$LOGS"/short.log 2>&1 &
W1=$!
.venv/bin/celery -A saas worker -Q long -c 1 -n long@compose --loglevel INFO > "$LOGS"/long.log 2>&1 &
W2=$!
.venv/bin/celery -A saas worker -Q backups -c "${BACKUP_CONCURRENCY:-1}" -n backups@compose --loglevel INFO > "$LOGS"/backups.log 2>&1 &
W3=$!
.venv/bin/celery -A saas beat --loglevel INFO --pidfile= > "$LOGS"/beat.log 2>&1 &
BEAT=$!
sleep 75
HEALTH=$(curl -s -o "$LOGS"/healthz.json -w '%{http_code}' -H 'Host: localhost' http://127.0.0.1:8077/healthz)
echo "healthz: $HEALTH $(cat "$LOGS"/healthz.json)"
echo "admin login page: $(curl -s -o /dev/null -w '%{http_code}' -H 'Host: localhost' http://127.0.0.1:8077/admin/login/)"
STATIC_OK=1
for asset in admin/css/base.css unfold/css/styles.css console/admin.css portal/vendor/pico.min.css; do
  CODE=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: localhost' "http://127.0.0.1:8077/static/$asset")
  echo "static $asset: $CODE"
  [ "$CODE" = 200 ] || STATIC_OK=0
done
echo "favicon: $(curl -s -o /dev/null -w '%{http_code}' -H 'Host: localhost' http://127.0.0.1:8077/favicon.ico)"
echo "beat tail:"; tail -3 "$LOGS"/beat.log
kill $WEB $W1 $W2 $W3 $BEAT; sleep 3; kill -9 $WEB $W1 $W2 $W3 $BEAT 2>/dev/null
psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS saas_compose" 2>/dev/null || true
[ "$HEALTH" = 200 ] && [ "$STATIC_OK" = 1 ] && grep -q '"last_heartbeat": "20' "$LOGS"/healthz.json
