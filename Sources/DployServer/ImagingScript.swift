/// The imaging environment's script, `GET /imaging.sh`: POSIX sh (dash or busybox ash) with
/// curl, dd, tee, mkfifo, wc and sha256sum. The environment's init fetches and runs it; it
/// reads its job from dploy, streams the disk to or from the image URL while hashing it,
/// reports the result, and reboots so the machine boots its disk (docs/tasks.md, "Imaging").
enum ImagingScript {
    static func text(server: String) -> String {
        #"""
        #!/bin/sh
        # dploy imaging environment. Generated; do not edit.
        # Usage: sh imaging.sh [MAC TOKEN]   (default: dploy.mac= and dploy.token= on the kernel command line)
        # DPLOY_IMAGING_REBOOT=0 leaves the machine running when the job is over.
        set -eu
        SERVER="${DPLOY_SERVER:-\#(server)}"
        cmdline() { sed -n "s/.*dploy\.$1=\([^ ]*\).*/\1/p" /proc/cmdline 2>/dev/null || true; }
        MAC="${1:-$(cmdline mac)}"
        TOKEN="${2:-$(cmdline token)}"
        [ -n "$MAC" ] && [ -n "$TOKEN" ] || { echo "dploy imaging: no MAC or token given" >&2; exit 2; }
        BASE="$SERVER/v1/imaging/$MAC"
        WORK="$(mktemp -d)"
        trap 'rm -rf "$WORK"' EXIT

        # Reports retry: dploy may be restarting (503) while a long job ends.
        report() {
            curl -fsS --retry 10 --retry-connrefused --retry-delay 5 -X POST --data-binary "$2" \
                "$BASE/$1?token=$TOKEN" >/dev/null
        }
        fail() {
            echo "dploy imaging: $1" >&2
            report failed "$1" || true
            exit 1
        }
        curl -fsS --retry 10 --retry-connrefused --retry-delay 5 "$BASE?token=$TOKEN" > "$WORK/job" \
            || { echo "dploy imaging: cannot fetch the job from $BASE" >&2; exit 1; }
        field() { sed -n "s/^$1=//p" "$WORK/job"; }
        DIRECTION="$(field direction)"
        URL="$(field url)"
        DISK="$(field disk)"
        EXPECTED="$(field sha256)"
        [ -e "$DISK" ] || fail "the disk $DISK does not exist"

        # The stream is hashed and counted on its way through: one pass over the disk, and
        # no reliance on what a dd prints (busybox's prints no byte count).
        mkfifo "$WORK/tap" "$WORK/count"
        sha256sum < "$WORK/tap" > "$WORK/sum" &
        HASHER=$!
        wc -c < "$WORK/count" > "$WORK/bytes" &
        COUNTER=$!
        case "$DIRECTION" in
        restore)
            report progress "restoring $URL to $DISK"
            # No pipefail in POSIX sh: each side leaves a mark when it fails. -L follows
            # redirects (a 3xx body is never written to the disk), -g takes [ and { literally.
            { curl -fsSL -g --proto =http,https "$URL" 2> "$WORK/curl" || echo "$?" > "$WORK/source-failed"; } \
                | tee "$WORK/tap" "$WORK/count" | { dd of="$DISK" bs=1M conv=fsync 2> "$WORK/dd" || echo "$?" > "$WORK/sink-failed"; }
            SOURCE_LOG="$WORK/curl" SINK_LOG="$WORK/dd"
            ;;
        capture)
            report progress "capturing $DISK to $URL"
            { dd if="$DISK" bs=1M 2> "$WORK/dd" || echo "$?" > "$WORK/source-failed"; } | tee "$WORK/tap" "$WORK/count" \
                | { curl -fsS -g --proto =http,https -T - "$URL" > /dev/null 2> "$WORK/curl" || echo "$?" > "$WORK/sink-failed"; }
            SOURCE_LOG="$WORK/dd" SINK_LOG="$WORK/curl"
            ;;
        *) fail "unknown direction '$DIRECTION'" ;;
        esac
        wait "$HASHER" "$COUNTER" || true
        [ ! -e "$WORK/source-failed" ] || fail "$DIRECTION: reading failed (exit $(cat "$WORK/source-failed")): $(head -n 1 "$SOURCE_LOG")"
        [ ! -e "$WORK/sink-failed" ] || fail "$DIRECTION: writing failed (exit $(cat "$WORK/sink-failed")): $(head -n 1 "$SINK_LOG")"
        SUM="$(cut -d ' ' -f 1 "$WORK/sum")"
        BYTES="$(tr -d ' ' < "$WORK/bytes")"
        if [ -n "$EXPECTED" ] && [ "$SUM" != "$EXPECTED" ]; then
            fail "the image's sha256 is $SUM, the task expects $EXPECTED"
        fi
        report done "sha256=$SUM
        bytes=$BYTES"
        echo "dploy imaging: $DIRECTION done: $BYTES bytes, sha256 $SUM"
        [ "${DPLOY_IMAGING_REBOOT:-1}" = 0 ] || reboot -f

        """#
    }
}
