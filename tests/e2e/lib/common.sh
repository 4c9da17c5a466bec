# Logging, assertions, timing, and the list of what this run started (for cleanup).

E2E_STEP_TIMES=()

log() { printf '%s e2e: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# assert DESCRIPTION COMMAND...: runs the command; a failure ends the run, naming what was expected.
assert() {
    local what="$1"; shift
    if "$@"; then log "  ok: $what"; else die "$what"; fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls every half second.
wait_for() {
    local seconds="$1" what="$2"; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${seconds}s waiting for: $what"
        sleep 0.5
    done
}

# step NAME: starts timing a step; the previous one ends.
E2E_STEP_NAME=""
E2E_STEP_START=0
step() {
    step_end
    E2E_STEP_NAME="$1"
    E2E_STEP_START="$(date +%s.%N)"
    log "=== $1"
}
step_end() {
    [ -n "$E2E_STEP_NAME" ] || return 0
    local took
    took="$(awk -v a="$E2E_STEP_START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')"
    E2E_STEP_TIMES+=("$(printf '%6ss  %s' "$took" "$E2E_STEP_NAME")")
    E2E_STEP_NAME=""
}
print_times() {
    step_end
    log "wall time per step:"
    local line
    for line in "${E2E_STEP_TIMES[@]}"; do printf '    %s\n' "$line" >&2; done
}

# Lines of FILE after the first N (logs grow; each step reads only what is new).
lines_after() { tail -n +"$(( $2 + 1 ))" "$1"; }
line_count() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# grep_all TEXT PATTERN...: every pattern matches a line of TEXT (read once, not per pattern).
# (grep reads a here-string, not a pipe: grep -q stops at the first match, and under
# pipefail the writer's SIGPIPE would fail the check.)
grep_all() {
    local text="$1" pattern
    shift
    for pattern; do grep -q "$pattern" <<<"$text" || return 1; done
}

# none_of PATTERN TEXT: no line of TEXT matches PATTERN.
none_of() { ! grep -q "$1" <<<"$2"; }

# one_of VALUE CHOICE...: whether VALUE is one of the choices.
one_of() {
    local value="$1"; shift
    local choice
    for choice in "$@"; do [ "$value" = "$choice" ] && return 0; done
    return 1
}
