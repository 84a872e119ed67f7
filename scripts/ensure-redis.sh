#!/usr/bin/env bash
# Makes sure a redis-server binary is available for the integration tests
# (they start their own private servers; nothing here starts a service).
# Installs Debian's redis-server with apt-get when it is missing and we are root.
set -euo pipefail
bin="${TENURE_REDIS_SERVER:-redis-server}"
if command -v "$bin" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends redis-server >&2
  # The Debian package may start a system service; the tests never use it.
  exit 0
fi
echo "redis-server is required for the integration tests: install it (apt-get install redis-server) or set TENURE_REDIS_SERVER" >&2
exit 1
