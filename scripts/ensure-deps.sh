#!/usr/bin/env bash
# Makes sure the binaries the tests use are present: redis-server,
# redis-cli, redis-sentinel, PostgreSQL's initdb/postgres, pgbouncer, etcd and etcdctl (the integration and fault tests start their
# own private servers on free loopback ports; nothing here starts a service
# for the tests, though Debian's postgresql package starts its own cluster on
# 5432, which the tests never use) and libfaketime (the fault suite's
# wall-clock-jump scenario), and promtool (Debian's prometheus package: the alert-rule tests;
# its service is not started by the tests), gcc with the C library headers (the CLI
# tests build a small C helper) and spin (the protocol model, model/run.sh). Installs Debian's packages with apt-get when they are missing and
# we are root; otherwise says what to install and fails.
set -euo pipefail
bin="${TENURE_REDIS_SERVER:-redis-server}"
missing=()
command -v "$bin" >/dev/null 2>&1 || missing+=(redis-server)
command -v "${TENURE_REDIS_CLI:-redis-cli}" >/dev/null 2>&1 || missing+=(redis-tools)
command -v "${TENURE_REDIS_SENTINEL:-redis-sentinel}" >/dev/null 2>&1 || missing+=(redis-sentinel)
if [ -z "${TENURE_PG_BIN:-}" ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ -z "${TENURE_PGBOUNCER:-}" ] && ! [ -x /usr/sbin/pgbouncer ]; then
  missing+=(pgbouncer)
fi
if [ -z "${TENURE_ETCD:-}" ] && ! command -v etcd >/dev/null 2>&1; then
  missing+=(etcd-server)
fi
if [ -z "${TENURE_ETCDCTL:-}" ] && ! command -v etcdctl >/dev/null 2>&1; then
  missing+=(etcd-client)
fi
if [ -z "${TENURE_PROMTOOL:-}" ] && ! command -v promtool >/dev/null 2>&1; then
  missing+=(prometheus)
fi
if [ -z "${TENURE_LIBFAKETIME:-}" ] && ! ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1; then
  missing+=(faketime)
fi
# gcc and the C library headers: the CLI tests build test/helpers/mt-writer.c (a command
# whose main thread exits while another thread runs); spin writes the protocol model's
# verifier in C (npm run model), which gcc builds.
command -v "${CC:-gcc}" >/dev/null 2>&1 || missing+=(gcc)
command -v spin >/dev/null 2>&1 || missing+=(spin)
[ -f /usr/include/pthread.h ] || missing+=(libc6-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  exit 0
fi
echo "the tests need: ${missing[*]} (apt-get install ${missing[*]}), or set TENURE_REDIS_SERVER / TENURE_PG_BIN / TENURE_PGBOUNCER / TENURE_ETCD / TENURE_ETCDCTL / TENURE_PROMTOOL / TENURE_LIBFAKETIME" >&2
exit 1
