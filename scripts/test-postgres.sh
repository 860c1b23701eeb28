#!/usr/bin/env bash
# Makes sure a PostgreSQL server runs on loopback for the tests, with a role for them,
# and prints its URL. Uses Debian's cluster (postgresql package, installed by setup.sh).
set -euo pipefail

# Only the URL goes to stdout: pg_ctlcluster prints warnings there (on a machine run by
# systemd it says the cluster will not run as a systemd service), and they would be read
# as part of the URL. The server started below must not inherit fd 3: it would hold the
# caller's pipe open and the caller would wait for its end forever.
exec 3>&1 1>&2

role=labvirt_test
password=labvirt_test
port=5432

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
  echo "test-postgres: no PostgreSQL cluster (install the postgresql package)" >&2
  exit 1
fi
read -r version cluster _ < <(pg_lsclusters -h | head -n 1)
if ! pg_lsclusters -h | head -n 1 | grep -q online; then
  if [ "$(id -u)" -eq 0 ]; then
    pg_ctlcluster "$version" "$cluster" start </dev/null 3>&-
  else
    sudo pg_ctlcluster "$version" "$cluster" start </dev/null 3>&-
  fi
fi
port=$(pg_lsclusters -h | head -n 1 | awk '{print $3}')

for _ in $(seq 1 50); do
  as_postgres pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.2
done

as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password';
  END IF;
END \$\$;
-- The tests drop their databases WITH (FORCE), which must also end an autovacuum worker
-- that has just started on one (it runs as no role, so only pg_signal_backend may).
GRANT pg_signal_backend TO $role;
SQL

echo "postgres://$role:$password@127.0.0.1:$port/postgres" >&3
