#!/usr/bin/env bash
# One-shot `certs` service of docker-compose.yml: writes a self-signed certificate for the
# PgBouncer stand-ins of RDS Proxy into the certs volume, once; later starts keep it.
#
# Why TLS at all: `samlocal deploy` builds DATABASE_URL from template.yaml, which says
# sslmode=require (RDS Proxy speaks TLS), and pgx then refuses a server without TLS. require
# encrypts without verifying, so a self-signed certificate is enough.
#
# The key is readable by every user (0644) because PgBouncer runs as the image's own non-root
# user, whose uid this script does not know. It is generated on the developer's machine, never
# leaves the volume and protects nothing but loopback traffic between containers.
set -euo pipefail

dir=${CERT_DIR:-/certs}
if [ -s "$dir/tls.crt" ] && [ -s "$dir/tls.key" ]; then
  echo "certs: $dir/tls.crt exists, keeping it"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
  -subj "/CN=pgbouncer" \
  -addext "subjectAltName=DNS:pgbouncer,DNS:pgbouncer-reader,DNS:localhost,IP:127.0.0.1" \
  -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null
chmod 0644 "$tmp/tls.key" "$tmp/tls.crt"
# Key first, certificate last: the check above only trusts a pair whose certificate was written.
mv "$tmp/tls.key" "$dir/tls.key"
mv "$tmp/tls.crt" "$dir/tls.crt"
echo "certs: wrote a self-signed certificate to $dir"
