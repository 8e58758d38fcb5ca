#!/bin/sh
# Prints deploy/nginx.conf with its ${MEDTOUR_…} placeholders filled in, for this host:
#
#   BASE_URL=https://medtour.example \
#   MEDTOUR_TLS_CERT=/etc/ssl/medtour/fullchain.pem MEDTOUR_TLS_KEY=/etc/ssl/medtour/privkey.pem \
#     sh deploy/render-nginx-conf.sh > /etc/nginx/nginx.conf && nginx -t && systemctl reload nginx
#
# Required: BASE_URL (the app's own variable: where patients reach the service, https://host[:port]),
# MEDTOUR_TLS_CERT and MEDTOUR_TLS_KEY (certificate chain and key, PEM). The rest default to
# Debian's nginx package and `gunicorn -b 127.0.0.1:8000`. Only the names listed here are
# substituted (envsubst, from gettext-base): nginx's own $variables are left as they are.
set -eu

: "${BASE_URL:?set BASE_URL to https://host[:port], where patients reach the service}"
: "${MEDTOUR_TLS_CERT:?set MEDTOUR_TLS_CERT to the certificate chain (PEM)}"
: "${MEDTOUR_TLS_KEY:?set MEDTOUR_TLS_KEY to its private key (PEM)}"

case "$BASE_URL" in
  https://*) ;;
  *) echo "BASE_URL must start with https:// (got $BASE_URL): nginx terminates TLS" >&2; exit 2 ;;
esac
rest=${BASE_URL#https://}
MEDTOUR_PUBLIC_HOST=${rest%%/*}
case "${rest#"$MEDTOUR_PUBLIC_HOST"}" in
  "" | /) ;;
  *) echo "BASE_URL must be an origin without a path (got $BASE_URL): the app is served at /" >&2; exit 2 ;;
esac
MEDTOUR_SERVER_NAME=${MEDTOUR_PUBLIC_HOST%:*}
MEDTOUR_ORIGIN="https://$MEDTOUR_PUBLIC_HOST"

# gunicorn's address; it must listen on loopback (or a private network) only.
: "${MEDTOUR_APP:=127.0.0.1:8000}"
: "${MEDTOUR_HTTP_LISTEN:=80}"
: "${MEDTOUR_HTTPS_LISTEN:=443}"
: "${MEDTOUR_NGINX_USER:=www-data}"
# Debian's nginx.service expects this pid file.
: "${MEDTOUR_NGINX_PID:=/run/nginx.pid}"
: "${MEDTOUR_NGINX_LOGS:=/var/log/nginx}"
# Request bodies wait here until complete: a disk with room for the uploads in flight.
: "${MEDTOUR_NGINX_TEMP:=/var/lib/nginx}"

export MEDTOUR_TLS_CERT MEDTOUR_TLS_KEY MEDTOUR_PUBLIC_HOST MEDTOUR_SERVER_NAME MEDTOUR_ORIGIN \
  MEDTOUR_APP MEDTOUR_HTTP_LISTEN MEDTOUR_HTTPS_LISTEN MEDTOUR_NGINX_USER MEDTOUR_NGINX_PID \
  MEDTOUR_NGINX_LOGS MEDTOUR_NGINX_TEMP

exec envsubst '${MEDTOUR_TLS_CERT} ${MEDTOUR_TLS_KEY} ${MEDTOUR_PUBLIC_HOST} ${MEDTOUR_SERVER_NAME}
${MEDTOUR_ORIGIN} ${MEDTOUR_APP} ${MEDTOUR_HTTP_LISTEN} ${MEDTOUR_HTTPS_LISTEN} ${MEDTOUR_NGINX_USER}
${MEDTOUR_NGINX_PID} ${MEDTOUR_NGINX_LOGS} ${MEDTOUR_NGINX_TEMP}' < "$(dirname "$0")/nginx.conf"
