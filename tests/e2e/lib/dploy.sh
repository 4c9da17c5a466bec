# dploy serve inside the namespace, the git repository it follows, and reading its state:
# `dploy machines --json`, `dploy status --json`, `dploy source status`, its JSON log.

E2E_DPLOY_PID=""
E2E_SERVER="http://198.18.0.1:8080"

# The repository the controller follows: file://, branch main, specs in site/.
fleet_init() {
    mkdir -p "$E2E_WORK/fleet/site"
    cp -R "$E2E_DIR/fleet/." "$E2E_WORK/fleet/site/"
    git -C "$E2E_WORK/fleet" init -q -b main
    fleet_commit "the e2e fleet: the installer profile, no machines yet"
}

# fleet_commit MESSAGE: commits everything in the work tree; prints nothing.
fleet_commit() {
    git -C "$E2E_WORK/fleet" add -A
    git -C "$E2E_WORK/fleet" -c user.name=dploy-e2e -c user.email=e2e@dploy.invalid \
        commit -q -m "$1"
}
fleet_head() { git -C "$E2E_WORK/fleet" rev-parse HEAD; }

dploy_write_config() {
    mkdir -p "$E2E_WORK/secrets"
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$E2E_WORK/secrets/webhook")
    cat > "$E2E_WORK/dploy.yaml" <<YAML
# The e2e controller: follows the test's repository, applies, drives the test's dnsmasq.
source: {url: "file://$E2E_WORK/fleet", ref: main, path: site}
# Runs come from the webhook (and the one at start): no timer in the way of the steps.
interval: 1h
mode: apply
store: {sqlite: state/dploy.db}
output: {http: out/http, tftp: out/tftp}
dhcp: {backend: dnsmasq, config: out/dhcp/dploy.conf, reload: "$(dhcp_reload_command)"}
# Two install boots per generation, and a boot 5 s after the last is a new attempt (the
# default is 10 minutes), so step 12 uses up a generation's attempts in three boots.
server: {listen: "198.18.0.1:8080", url: "$E2E_SERVER", installAttempts: 2, attemptWindow: 5s}
# dploy's own TFTP server: loaders from Debian's paths, pxelinux and GRUB configs decided.
tftp: {listen: "198.18.0.1:69"}
webhook: {secretFile: secrets/webhook}
# NAME.yaml per secret, mode 0600: the BMC's user and password (lib/power.sh writes it).
secrets: secrets
discovery:
  kernel: $E2E_SERVER/files/e2e/vmlinuz
  initrd: $E2E_SERVER/files/e2e/discovery.img
  args: "console=ttyS0 quiet"
# What an imageRestore task boots: initramfs/imaging-init, which runs dploy's /imaging.sh.
imaging:
  kernel: $E2E_SERVER/files/e2e/vmlinuz
  initrd: $E2E_SERVER/files/e2e/imaging.img
  args: "console=ttyS0 quiet"
YAML
}

dploy() { "$E2E_DPLOY" "$@"; }

# dploy_start: dploy serve in the namespace, its log appended to serve.log (a restart keeps
# the earlier lines, which the steps count).
dploy_start() {
    local starts
    starts="$(dploy_starts)"
    E2E_SERVE_MARK="$(line_count "$E2E_WORK/serve.log")"
    ip netns exec "$E2E_NETNS" "$E2E_DPLOY" serve --config "$E2E_WORK/dploy.yaml" --listen 198.18.0.1:8080 \
        --log-format json --log-level debug </dev/null >>"$E2E_WORK/serve.log" 2>&1 &
    E2E_DPLOY_PID=$!
    wait_for 60 "dploy serve to listen on 198.18.0.1:8080" dploy_listening "$starts"
    wait_for 60 "dploy serve's first run" dploy_first_run_done
    log "dploy serve started (pid $E2E_DPLOY_PID)"
}

# Whether this dploy serve (its PID in `dploy status`) has finished its first run.
dploy_first_run_done() {
    local status
    status="$(dploy status --config "$E2E_WORK/dploy.yaml" --json 2>/dev/null)" || return 1
    [ "$(jq_get '["status"]["pid"]' <<<"$status")" = "$E2E_DPLOY_PID" ] && [ "$(jq_get '["status"]["runs"]' <<<"$status")" -ge 1 ] 2>/dev/null
}

dploy_starts() {
    if [ -f "$E2E_WORK/serve.log" ]; then grep -c '"Server started and listening on 198.18.0.1:8080"' "$E2E_WORK/serve.log" || true
    else echo 0; fi
}

dploy_listening() {
    kill -0 "$E2E_DPLOY_PID" 2>/dev/null || { tail -n 40 "$E2E_WORK/serve.log" >&2; die "dploy serve exited"; }
    [ "$(dploy_starts)" -gt "$1" ]
}

dploy_stop() {
    [ -n "$E2E_DPLOY_PID" ] || return 0
    kill -TERM "$E2E_DPLOY_PID" 2>/dev/null || true
    local waited=0
    while kill -0 "$E2E_DPLOY_PID" 2>/dev/null && [ "$waited" -lt 40 ]; do sleep 0.5; waited=$((waited + 1)); done
    kill -KILL "$E2E_DPLOY_PID" 2>/dev/null || true
    wait "$E2E_DPLOY_PID" 2>/dev/null || true
    E2E_DPLOY_PID=""
}

# The daemon's run counter (dploy status --json), to wait for the run a webhook starts.
dploy_runs() { dploy status --config "$E2E_WORK/dploy.yaml" --json | jq_get '["status"]["runs"]'; }

# jq_get PATH: reads a Python subscript path from JSON on stdin ("" when absent).
jq_get() {
    python3 -c 'import json, sys
try:
    value = eval("json.load(sys.stdin)" + sys.argv[1])
except (KeyError, IndexError, TypeError):
    value = ""
print(value if not isinstance(value, (dict, list)) else json.dumps(value))' "$1"
}

# webhook: a signed push to main; waits for the run it starts to finish.
webhook() {
    local before status
    before="$(dploy_runs)"
    E2E_SERVE_MARK="$(line_count "$E2E_WORK/serve.log")"
    status="$(in_netns python3 "$E2E_DIR/lib/webhook.py" "$E2E_SERVER/v1/hooks/git" "$E2E_WORK/secrets/webhook" refs/heads/main)"
    [ "$status" = 202 ] || die "the signed webhook got HTTP $status, expected 202"
    wait_for 60 "the run the webhook started" runs_above "$before"
    # BMC steps (a reinstall's boot-once and power cycle) are jobs the run queued: the step
    # goes on once they are done, as it did when the run sent them itself.
    wait_for 60 "the BMC jobs the run queued" bmc_jobs_done
}
bmc_jobs_done() { [ "$(dploy jobs list --config "$E2E_WORK/dploy.yaml" --json | jq_get '')" = "[]" ]; }
runs_above() { [ "$(dploy_runs)" -gt "$1" ] 2>/dev/null; }
# A run since the last webhook (or start) converged. Not just the last run: a BMC job's end starts one
# more run (a reinstall's boot-once and cycle are jobs), which finds nothing to change.
converged_since_webhook() { grep -q '"message":"reconcile converged' <<<"$(lines_after "$E2E_WORK/serve.log" "$E2E_SERVE_MARK")"; }

dploy_last_run() { dploy status --config "$E2E_WORK/dploy.yaml" --json | jq_get "[\"status\"][\"lastRun\"]$1"; }

# machine_field FIELD: a field of the test machine's row in `dploy machines --json`.
machine_field() {
    dploy machines --config "$E2E_WORK/dploy.yaml" --json \
        | python3 -c 'import json, sys
rows = [r for r in json.load(sys.stdin) if r.get("mac", "").lower() == sys.argv[1].lower()]
value = rows[0].get(sys.argv[2], "") if rows else "<no row>"
print("" if value is None else value)' "$E2E_MAC" "$1"
}

# json_log MESSAGE FIELD...: the daemon's debug lines with that message, their fields
# space-separated ("-" for one that is absent, so that each field keeps its column).
json_log() {
    python3 -c 'import json, sys
for line in sys.stdin:
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    if entry.get("message") == sys.argv[1]:
        print(*(entry.get(field) or "-" for field in sys.argv[2:]))' "$@" < "$E2E_WORK/serve.log"
}

# The daemon's TFTP log: "FILE RESULT CLIENT", one per read request.
tftp_log() { json_log tftp file result client; }

# The daemon's HTTP access log: "METHOD PATH STATUS MAC CLIENT", one per request.
http_log() { json_log http method path status mac client; }
