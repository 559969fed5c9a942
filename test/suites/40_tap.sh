#!/usr/bin/env bash
# TAP tests (test/t/*.pl) with PostgreSQL::Test::Cluster: hot standby,
# pg_dump/pg_restore, extension upgrade, pgbouncer in transaction pooling
# mode.  They start clusters of their own, as the postgres user (the
# server refuses to run as root), in a temporary directory that user owns.
cd "$(dirname "$0")/../.."
. test/lib.sh

# IPC::Run drives the TAP framework; pgbouncer is the pooler under test.
qr_install_packages libipc-run-perl pgbouncer

PGXS_DIR=$("$PGBIN/pg_config" --pkglibdir)/pgxs
TAP_DIR=$(mktemp -d /tmp/qilin_rbac_tap.XXXXXX)
cp -r test/t "$TAP_DIR/t"
chown -R postgres: "$TAP_DIR"
cleanup() {
    if [ -z "${QILIN_RBAC_KEEP:-}" ]; then rm -rf "$TAP_DIR"; else qr_log "TAP files kept in $TAP_DIR"; fi
}
trap cleanup EXIT

# What PGXS's prove_installcheck sets, pointed at our PostgreSQL.
set +e
su postgres -s /bin/sh -c "cd '$TAP_DIR' && \
    TESTDIR='$TAP_DIR' PATH='$PGBIN':\"\$PATH\" \
    PERL5LIB='$PGXS_DIR/src/test/perl' \
    PG_REGRESS='$PGXS_DIR/src/test/regress/pg_regress' \
    QILIN_RBAC_PORT='${QILIN_RBAC_PORT:-55432}' \
    prove -v t/*.pl" 2>&1 | tee "$TAP_DIR/prove.out"
rc=${PIPESTATUS[0]}
set -e

passed=$(grep -cE '^ok [0-9]+' "$TAP_DIR/prove.out" || true)
failed=$(grep -cE '^not ok [0-9]+' "$TAP_DIR/prove.out" || true)
if { [ "$rc" -ne 0 ] || [ "$passed" -eq 0 ]; } && [ "$failed" -eq 0 ]; then
    failed=1
    for log in "$TAP_DIR"/tmp_check/log/*.log; do
        [ -e "$log" ] && { echo "---- $log"; tail -n 40 "$log"; }
    done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
