# Sourced by scripts/demo.sh (and the demo's test): the demo runs like production, with DEBUG off, its own secret
# key and static files through WhiteNoise, on this machine only, over plain HTTP.
mkdir -p "${VAR_DIR:-var}"
# A secret key generated once and kept (readable only by you) in var/, like the admin password.
secret_key_file="${VAR_DIR:-var}/demo-secret-key"
if [ ! -s "$secret_key_file" ]; then
  (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(50))" >"$secret_key_file")
fi
SECRET_KEY="$(cat "$secret_key_file")"
export SECRET_KEY
export DEBUG=0
export HOST="${HOST:-127.0.0.1}"
# Plain HTTP on 127.0.0.1: no redirect to HTTPS, cookies sent without TLS. Production keeps both defaults (on).
export SECURE_SSL_REDIRECT=0 SECURE_COOKIES=0
# Nothing else serves the photos here; production serves media from its web server or shared storage.
export SERVE_MEDIA=1
