# Shared by test/run_tests.sh, test/demo.sh and the benchmarks: install what
# is missing, build and install the extension, and start a throwaway
# PostgreSQL 15 cluster owned by the unprivileged "postgres" user (the
# server refuses to run as root).
#
# Source it from a script running as root, from the repository root.

set -euo pipefail

# QILIN_RBAC_PGBIN points at another PostgreSQL 15 installation if wanted.
PGBIN=${QILIN_RBAC_PGBIN:-/usr/lib/postgresql/15/bin}
# Debian packages the build and the tests need.  Each beyond PostgreSQL
# and libsodium is explained in README.md ("Dependencies").
QILIN_RBAC_PACKAGES=${QILIN_RBAC_PACKAGES:-"postgresql-15 postgresql-server-dev-15 postgresql-contrib libsodium-dev make gcc"}

qr_log() { printf '== %s\n' "$*" >&2; }

# Run a shell command as the postgres user, from a directory it can enter
# (the checkout may be under /root).
qr_as_postgres() { ( cd / && su postgres -s /bin/sh -c "$1" ); }

qr_install_packages() {
    local missing=() p
    for p in $QILIN_RBAC_PACKAGES "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]})); then
        qr_log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

qr_build() {
    qr_log "building and installing qilin_rbac"
    make -s PG_CONFIG="$PGBIN/pg_config" clean >/dev/null
    make -s PG_CONFIG="$PGBIN/pg_config" PG_CFLAGS="${QILIN_RBAC_CFLAGS:--Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror}" >/dev/null
    make -s PG_CONFIG="$PGBIN/pg_config" install >/dev/null
}

# qr_start_cluster [extra postgres options]: sets QR_DIR, PGHOST, PGPORT,
# PGUSER, PGDATABASE and stops the cluster when the calling script exits.
qr_start_cluster() {
    QR_DIR=$(mktemp -d /tmp/qilin_rbac.XXXXXX)
    chown postgres: "$QR_DIR"
    local port=${QILIN_RBAC_PORT:-55432}
    while (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null || [ -e "/tmp/.s.PGSQL.$port" ]; do
        port=$((port + 1))
    done
    qr_log "starting a throwaway cluster in $QR_DIR on port $port"
    qr_as_postgres "$PGBIN/initdb -D '$QR_DIR/data' -A trust -U postgres --no-sync >'$QR_DIR/initdb.log' 2>&1"
    qr_as_postgres "$PGBIN/pg_ctl -D '$QR_DIR/data' -l '$QR_DIR/server.log' -w \
        -o \"-p $port -k '$QR_DIR' -c listen_addresses='127.0.0.1' -c fsync=off $*\" start >/dev/null"
    export PGHOST="$QR_DIR" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    # for suites that read the main server's log
    export QILIN_RBAC_SERVER_LOG="$QR_DIR/server.log"
    trap qr_stop_cluster EXIT
}

qr_stop_cluster() {
    if [ -n "${QR_DIR:-}" ] && [ -d "$QR_DIR/data" ]; then
        qr_as_postgres "$PGBIN/pg_ctl -D '$QR_DIR/data' -m immediate stop >/dev/null 2>&1" || true
        if [ -z "${QILIN_RBAC_KEEP:-}" ]; then rm -rf "$QR_DIR"; fi
    fi
}
