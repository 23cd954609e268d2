#!/usr/bin/env bash
# Makes sure the local services the integration tests talk to are up: PostgreSQL on 127.0.0.1:5432 and
# NATS with JetStream on 127.0.0.1:4222.
# Machines of this project start it before a session; this starts it where it is installed but stopped.
# Without a reachable PostgreSQL, the PostgreSQL variants of the tests are skipped with a printed reason.
set -uo pipefail

nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }
if ! nats_up && command -v nats-server >/dev/null 2>&1; then
  mkdir -p /var/lib/nats-server 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log 2>/dev/null || true
  for _ in $(seq 1 20); do nats_up && break; sleep 0.5; done
fi
nats_up || echo "services: NATS is not reachable on 127.0.0.1:4222; NATS test variants will be skipped" >&2

if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done
fi
echo "services: PostgreSQL is not reachable on 127.0.0.1:5432; PostgreSQL test variants will be skipped" >&2
exit 0
