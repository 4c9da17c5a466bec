#!/usr/bin/env bash
# The package test (make package-test): builds the .deb, runs lintian on it, installs it on
# this machine with dpkg -i, checks what an operator would check, upgrades, removes and
# reinstalls it, then purges it and checks that nothing is left behind.
#
# Needs root (dpkg -i, a system user). Not root: skips, unless DPLOY_REQUIRE_INTEGRATION=1,
# then fails. Refuses to run where dploy is already installed or a dploy user exists, so
# it never removes what it did not make; purges on any exit, so the machine is left clean.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    if [ "${DPLOY_REQUIRE_INTEGRATION:-}" = 1 ]; then
        echo "package test: FAILED: needs root (dpkg -i, the dploy user) and DPLOY_REQUIRE_INTEGRATION=1 is set" >&2
        exit 1
    fi
    echo "package test: skipped: needs root to install the package (sudo make package-test)"
    exit 0
fi
for tool in dpkg-deb dpkg-shlibdeps lintian systemd-analyze man curl python3; do
    command -v "$tool" >/dev/null || { echo "package test: FAILED: $tool is missing (sudo make setup)" >&2; exit 1; }
done
if dpkg-query -W -f='${db:Status-Status}' dploy 2>/dev/null | grep -qv '^not-installed$'; then
    echo "package test: FAILED: the dploy package is already on this machine; purge it first (dpkg -P dploy)" >&2
    exit 1
fi
if getent passwd dploy >/dev/null || getent group dploy >/dev/null; then
    echo "package test: FAILED: a dploy user or group exists already; this test would remove it" >&2
    exit 1
fi

failures=0
pass() { echo "  ok    $*"; }
fail() { echo "  FAIL  $*" >&2; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
expect_stat() { # expect_stat PATH OWNER:GROUP MODE
    local got
    got=$(stat -c '%U:%G %a' "$1" 2>/dev/null || echo missing)
    if [ "$got" = "$2 $3" ]; then pass "$1 is $2 $3"; else fail "$1 is $got, not $2 $3"; fi
}
expect_gone() {
    if [ -e "$1" ] || [ -L "$1" ]; then fail "$1 is left behind"; else pass "$1 is gone"; fi
}
serve_pid="" serve_config=""
cleanup() {
    if [ -n "$serve_pid" ]; then kill -KILL "$serve_pid" 2>/dev/null || true; fi
    rm -f /tmp/dploy-package-test-serve.log ${serve_config:+"$serve_config"}
    if dpkg-query -W -f='${db:Status-Status}' dploy 2>/dev/null | grep -qv '^not-installed$'; then
        dpkg -P dploy >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

echo "== build"
deb=$(packaging/build-deb.sh)
version=$(packaging/version.sh)
echo "  $deb ($(du -h "$deb" | cut -f1))"

echo "== lintian (errors and warnings fail; the one override is in packaging/debian/lintian-overrides)"
lintian_status=0
lintian_out=$(lintian -I --fail-on error,warning "$deb" 2>&1) || lintian_status=$?
printf '%s\n' "$lintian_out" | grep -v -e 'running with root privileges' -e '^$' | sed 's/^/        /' || true
if [ "$lintian_status" = 0 ]; then pass "lintian: no errors, no warnings"; else fail "lintian: errors or warnings (above)"; fi

echo "== install"
dpkg -i "$deb"
check "dpkg says dploy $version is installed" test "$(dpkg-query -W -f='${Status} ${Version}' dploy)" = "install ok installed $version"
got_version=$(dploy --version 2>&1 || true)
if [ "$got_version" = "$version" ]; then pass "dploy --version prints $version"; else fail "dploy --version prints '$got_version', not $version"; fi
check "dploy is /usr/bin/dploy" test "$(command -v dploy)" = /usr/bin/dploy
check "every library dploy links is found" sh -c '! ldd /usr/bin/dploy | grep -q "not found"'
check "dploy links no Swift runtime or Foundation library (static)" \
    sh -c '! readelf -d /usr/bin/dploy | grep NEEDED | grep -qiE "swift|Foundation|dispatch|BlocksRuntime|icu"'

IFS=: read -r _ _ uid _ _ home shell < <(getent passwd dploy) || true
check "user dploy exists" getent passwd dploy
check "user dploy is a system user (uid $uid < 1000)" test "${uid:-1000}" -lt 1000
check "user dploy has home /var/lib/dploy" test "$home" = /var/lib/dploy
check "user dploy has no login shell ($shell)" test "$shell" = /usr/sbin/nologin
check "group dploy exists" getent group dploy
check "user dploy's group is dploy" test "$(id -gn dploy)" = dploy

expect_stat /var/lib/dploy dploy:dploy 750
expect_stat /var/lib/dploy/state dploy:dploy 750
expect_stat /var/lib/dploy/out dploy:dploy 750
expect_stat /etc/dploy root:root 755
expect_stat /etc/dploy/secrets dploy:dploy 700
expect_stat /etc/dploy/dploy.yaml root:root 644
expect_stat /usr/bin/dploy root:root 755
check "/etc/dploy/dploy.yaml is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' dploy | grep -q '^ /etc/dploy/dploy.yaml '"

unit=/lib/systemd/system/dploy.service
check "the unit is installed" test -f "$unit"
if systemd-analyze verify "$unit"; then pass "systemd-analyze verify $unit"; else fail "systemd-analyze verify $unit"; fi
check "the unit is enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/dploy.service
check "the unit runs as dploy" grep -qx 'User=dploy' "$unit"
check "the unit grants no capability" grep -qx 'CapabilityBoundingSet=' "$unit"
if [ -d /run/systemd/system ]; then
    check "the service is not started on a first install" sh -c '! systemctl is-active --quiet dploy'
fi

check "bash completion loads" bash -c 'source /usr/share/bash-completion/completions/dploy && complete -p dploy'
check "zsh completion is installed" grep -q '^#compdef dploy' /usr/share/zsh/vendor-completions/_dploy
check "fish completion is installed" grep -q "^complete -c 'dploy'" /usr/share/fish/vendor_completions.d/dploy.fish
check "man dploy finds the page" man -w dploy
check "the man page documents serve" sh -c 'MANWIDTH=80 man -P cat dploy 2>/dev/null | grep -q "serve"'
schemas=$(find schemas -maxdepth 1 -name '*.json' | wc -l)
check "all $schemas JSON Schemas are in /usr/share/dploy/schemas" test "$(find /usr/share/dploy/schemas -name '*.json' | wc -l)" -eq "$schemas"
check "the example lab is in /usr/share/dploy/examples/lab" test -f /usr/share/dploy/examples/lab/dploy.yaml
check "copyright and changelog are in /usr/share/doc/dploy" test -f /usr/share/doc/dploy/copyright -a -f /usr/share/doc/dploy/changelog.gz

echo "== run the installed dploy on the installed example and config"
if dploy validate /usr/share/dploy/examples/lab; then pass "dploy validate /usr/share/dploy/examples/lab"; else fail "dploy validate /usr/share/dploy/examples/lab"; fi
set +e
runuser -u dploy -- dploy plan --config /etc/dploy/dploy.yaml >/dev/null
plan_status=$?
set -e
if [ "$plan_status" = 0 ] || [ "$plan_status" = 2 ]; then
    pass "dploy plan --config /etc/dploy/dploy.yaml as dploy (exit $plan_status)"
else
    fail "dploy plan --config /etc/dploy/dploy.yaml as dploy exits $plan_status"
fi
# The service's command, as its user, on the shipped config moved to a free loopback port
# (8080 may be taken here). setpriv execs dploy itself (runuser would stay as its parent
# and take the SIGTERM).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve_config=$(mktemp /tmp/dploy-package-test.XXXXXX.yaml)
sed "s/^  listen: \"127.0.0.1:8080\"$/  listen: \"127.0.0.1:$port\"/" /etc/dploy/dploy.yaml > "$serve_config"
chmod 0644 "$serve_config"
check "the shipped config listens on 127.0.0.1:8080 (moved to $port here)" grep -q "127.0.0.1:$port" "$serve_config"
HOME=/var/lib/dploy setpriv --reuid dploy --regid dploy --init-groups dploy serve --config "$serve_config" >/tmp/dploy-package-test-serve.log 2>&1 &
serve_pid=$!
script=""
for _ in $(seq 100); do
    script=$(curl -fsS "http://127.0.0.1:$port/boot.ipxe?mac=94:18:82:3a:5c:10" 2>/dev/null) && break
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.2
done
if [ "${script%%$'\n'*}" = '#!ipxe' ]; then pass "dploy serve as dploy answers GET /boot.ipxe"; else fail "dploy serve as dploy did not answer GET /boot.ipxe: $(cat /tmp/dploy-package-test-serve.log)"; fi
kill -TERM "$serve_pid" 2>/dev/null || true
serve_status=0
for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$serve_pid" 2>/dev/null; then
    fail "dploy serve still runs 10 s after SIGTERM"
    kill -KILL "$serve_pid" 2>/dev/null || true
fi
wait "$serve_pid" || serve_status=$?
serve_pid=""
if [ "$serve_status" = 0 ]; then pass "dploy serve exits 0 on SIGTERM"; else fail "dploy serve exits $serve_status on SIGTERM"; fi
rm -f /tmp/dploy-package-test-serve.log "$serve_config"
check "the store was made by dploy, in /var/lib/dploy/state" test "$(stat -c %U /var/lib/dploy/state/dploy.db)" = dploy

echo "== the first-install configure again (idempotent)"
state() {
    stat -c '%n %U:%G %a' /var/lib/dploy /var/lib/dploy/state /var/lib/dploy/out /etc/dploy/secrets
    getent passwd dploy; getent group dploy
    readlink /etc/systemd/system/multi-user.target.wants/dploy.service
}
before=$(state)
DPKG_MAINTSCRIPT_PACKAGE=dploy DPKG_MAINTSCRIPT_NAME=postinst /var/lib/dpkg/info/dploy.postinst configure "" >/dev/null
after=$(state)
check "postinst configure twice changes nothing" test "$before" = "$after"

echo "== upgrade (the same package again), with an operator's edits in place"
echo "# edited by the package test" >> /etc/dploy/dploy.yaml
install -o dploy -g dploy -m 0600 /dev/null /etc/dploy/secrets/ilo-web.yaml
dpkg -i "$deb"
check "the edited config is kept" grep -q 'edited by the package test' /etc/dploy/dploy.yaml
check "the secret is kept" test -f /etc/dploy/secrets/ilo-web.yaml
check "the store is kept" test -f /var/lib/dploy/state/dploy.db
expect_stat /etc/dploy/secrets dploy:dploy 700

echo "== remove: keeps the state, the config and the user"
dpkg -r dploy
expect_gone /usr/bin/dploy
expect_gone "$unit"
check "the store is kept" test -f /var/lib/dploy/state/dploy.db
check "the secret is kept" test -f /etc/dploy/secrets/ilo-web.yaml
check "the config is kept" test -f /etc/dploy/dploy.yaml
check "user dploy is kept" getent passwd dploy

echo "== install again after remove"
dpkg -i "$deb"
check "dploy --version after reinstall" test "$(dploy --version)" = "$version"
check "the unit is enabled again" test -L /etc/systemd/system/multi-user.target.wants/dploy.service
check "the state survived" test -f /var/lib/dploy/state/dploy.db

echo "== purge: nothing left behind"
listing=$(dpkg-query -L dploy)
dpkg -P dploy
check "dpkg no longer knows dploy" sh -c "! dpkg-query -W -f='\${db:Status-Status}' dploy 2>/dev/null | grep -qv '^not-installed$'"
for path in /etc/dploy /var/lib/dploy /etc/systemd/system/dploy.service \
    /etc/systemd/system/multi-user.target.wants/dploy.service \
    /var/lib/systemd/deb-systemd-helper-enabled/dploy.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/dploy.service \
    /var/lib/systemd/deb-systemd-helper-masked/dploy.service; do
    expect_gone "$path"
done
left=0
while IFS= read -r path; do
    [ -d "$path" ] && continue            # shared folders (/usr/share/man, ...) stay
    if [ -e "$path" ] || [ -L "$path" ]; then fail "$path is left behind"; left=1; fi
done <<<"$listing"
[ "$left" = 1 ] || pass "every file of the package is gone"
check "/usr/share/dploy is gone" test ! -e /usr/share/dploy
check "/usr/share/doc/dploy is gone" test ! -e /usr/share/doc/dploy
check "user dploy is gone" sh -c '! getent passwd dploy'
check "group dploy is gone" sh -c '! getent group dploy'

echo
if [ "$failures" = 0 ]; then
    echo "package test: passed ($(basename "$deb"))"
else
    echo "package test: $failures check(s) FAILED" >&2
    exit 1
fi
