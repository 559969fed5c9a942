#!/usr/bin/env bash
# The whole regression suite against a build of the extension instrumented
# with UndefinedBehaviorSanitizer, in a server running under valgrind
# (memcheck).
#
# The main installation stays untouched: the PostgreSQL installation is
# copied to a throwaway directory (PostgreSQL finds its share and lib
# directories relative to its bin directory, so a copy works as is), the
# instrumented build is installed there, and a server started from the copy
# under valgrind runs `make installcheck`.  A UBSan report, a memcheck
# error in a stack that passes through the extension, a backend crash or a
# failed test fails the suite.
#
# Why not AddressSanitizer: Debian's PostgreSQL binaries are not
# instrumented, and preloading the ASan runtime (gcc's or clang's) into
# them deadlocks in bindtextdomain() at startup, before main() does
# anything.  The fuzz harnesses run the parsers under ASan instead.
# PostgreSQL is not built with its valgrind hooks either, so memcheck does
# not see overruns inside palloc'd chunks; it does see reads of
# uninitialised memory, overruns of malloc'd and stack memory, and
# invalid frees.
cd "$(dirname "$0")/../.."
. test/lib.sh
qr_install_packages gcc libubsan1 valgrind

passed=0
failed=0
ok() { echo "ok $*"; passed=$((passed + 1)); }
not_ok() { echo "FAILED $*"; failed=$((failed + 1)); }

# The installation's root: bin is <root>/lib/postgresql/15/bin.
root=$(cd "$PGBIN/../../../.." && pwd)
work=$(mktemp -d /tmp/qr_san.XXXXXX)
chmod 755 "$work"
copy="$work/usr"
cleanup() {
    if [ -d "$work/data" ]; then
        qr_as_postgres "'$copy/lib/postgresql/15/bin/pg_ctl' -D '$work/data' -m immediate stop >/dev/null 2>&1" || true
    fi
    if [ -z "${QILIN_RBAC_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

qr_log "copying the PostgreSQL installation from $root to $copy"
mkdir -p "$copy/lib/postgresql" "$copy/share/postgresql" "$copy/include"
cp -a "$root/lib/postgresql/15" "$copy/lib/postgresql/"
cp -a "$root/share/postgresql/15" "$copy/share/postgresql/"
cp -a "$root/include/postgresql" "$copy/include/"
bin="$copy/lib/postgresql/15/bin"

qr_log "building qilin_rbac with -fsanitize=undefined"
mkdir "$work/build"
cp -a Makefile qilin_rbac.control src sql test expected "$work/build/"
chown -R postgres: "$work/build"
san="-fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
make -s -C "$work/build" PG_CONFIG="$bin/pg_config" clean >/dev/null
make -s -C "$work/build" PG_CONFIG="$bin/pg_config" \
    PG_CFLAGS="$san -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror" >/dev/null
make -s -C "$work/build" PG_CONFIG="$bin/pg_config" install >/dev/null
if ldd "$copy/lib/postgresql/15/lib/qilin_rbac.so" | grep -q libubsan; then
    ok "the installed module is instrumented"
else
    not_ok "the installed module is instrumented"
fi

mkdir "$work/reports"
chown postgres: "$work" "$work/reports"
port=$((${QILIN_RBAC_PORT:-55432} + 20))
while (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null || [ -e "/tmp/.s.PGSQL.$port" ]; do
    port=$((port + 1))
done
qr_as_postgres "'$bin/initdb' -D '$work/data' -A trust -U postgres --no-sync >'$work/initdb.log' 2>&1"
# pg_ctl starts this wrapper instead of postgres: the postmaster and every
# backend it forks run under memcheck, each logging to its own file.
cat >"$work/postgres-valgrind" <<WRAP
#!/bin/sh
UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$work/reports/ubsan'
export UBSAN_OPTIONS
exec valgrind --quiet --tool=memcheck --trace-children=no --num-callers=30 \\
    --error-limit=no --track-origins=no --read-var-info=no \\
    --log-file='$work/reports/valgrind.%p' '$bin/postgres' "\$@"
WRAP
chmod 755 "$work/postgres-valgrind"
qr_log "starting a server under valgrind on port $port"
qr_as_postgres "'$bin/pg_ctl' -D '$work/data' -l '$work/server.log' -w -t 300 \
    -p '$work/postgres-valgrind' \
    -o \"-p $port -k '$work' -c listen_addresses='' -c fsync=off -c restart_after_crash=off\" start >/dev/null"

qr_log "regression suite (make installcheck) against the instrumented server"
set +e
PGHOST="$work" PGPORT="$port" PGUSER=postgres \
    make -s -C "$work/build" installcheck PG_CONFIG="$bin/pg_config" >"$work/installcheck.out" 2>&1
rc=$?
set -e
cat "$work/installcheck.out"
if [ "$rc" -eq 0 ]; then
    ok "make installcheck under valgrind with UndefinedBehaviorSanitizer"
else
    [ -f "$work/build/regression.diffs" ] && head -n 200 "$work/build/regression.diffs"
    not_ok "make installcheck under valgrind with UndefinedBehaviorSanitizer"
fi

# memcheck errors in the extension: the error's own frame, or one of the
# two frames that called it, is in the extension's code (skipping the C
# library and valgrind's replacements).  An error deep inside PostgreSQL
# whose stack merely passes through one of the extension's hooks (every
# utility statement does) is PostgreSQL's, without its valgrind hooks:
# counted, not judged.
ours=0
others=0
srcs=$(cd src && ls *.c | sed 's/[.]c$//' | paste -sd'|')
ours_re="qilin_rbac[.]so|[(]($srcs)[.]c:"
libc_re='vgpreload|/libc[.]so|libc-|pwrite64[.]c|[(]in /usr/lib/x86_64-linux-gnu/libc'
for f in "$work"/reports/valgrind.*; do
    [ -e "$f" ] || continue
    n=$(awk -v re="$ours_re" -v libc="$libc_re" '
             function judge() { if (nf > 0 && hit) c++; nf = 0; hit = 0 }
             /^==[0-9]+== [A-Z]/ { judge(); nf = 0; hit = 0; inblk = 1; next }
             inblk && /^==[0-9]+== +(at|by) / {
                 if ($0 ~ libc) next
                 nf++
                 if (nf <= 3 && $0 ~ re) hit = 1
                 next
             }
             { judge(); inblk = 0 }
             END { judge(); print c + 0 }' "$f")
    if [ "$n" -gt 0 ]; then
        ours=$((ours + n))
        head -n 80 "$f"
    fi
    others=$((others + $(grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched)' "$f" || true)))
done
echo "memcheck: $ours report(s) through the extension, $others report(s) in all"
if [ "$ours" -eq 0 ]; then
    ok "no memcheck error in the extension"
else
    not_ok "no memcheck error in the extension"
fi
if ! ls "$work"/reports/ubsan* >/dev/null 2>&1 && ! grep -q 'runtime error:' "$work/server.log"; then
    ok "no UndefinedBehaviorSanitizer report"
else
    cat "$work"/reports/ubsan* 2>/dev/null | head -n 60 || true
    grep -A 20 'runtime error:' "$work/server.log" | head -n 60 || true
    not_ok "no UndefinedBehaviorSanitizer report"
fi

if grep -qE 'terminated by signal|was terminated|server process .* exited with exit code [^01]' "$work/server.log"; then
    grep -E 'terminated by signal|was terminated|exited with exit code' "$work/server.log" | head || true
    not_ok "no backend crashed"
else
    ok "no backend crashed"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
