# dploy — the two commands of the README, and the rest of the developer loop.
# `make demo` builds dploy and runs its main job on the example lab; `make test` runs
# every test. Both use only the embedded store: no other server.

SWIFT ?= swift
BUILD_FLAGS ?=
LAB ?= examples/lab

.PHONY: all build deps demo test test-deps tools test-tools warnings package-test e2e deb bench bench-cobbler fuzz clean setup

# The Python tools (check-jsonschema, sushy-tools, …) live in one virtual environment this
# Makefile owns; tests find them by this absolute path, never through PATH.
DPLOY_TOOLS_DIR ?= $(CURDIR)/.build-tools
export DPLOY_TOOLS_DIR
export DPLOY_TOOLS_BIN := $(DPLOY_TOOLS_DIR)/venv/bin

# `make test` runs every test: a missing tool is a failure that says how to install it.
# DPLOY_ALLOW_SKIP=1 (a developer's machine without root or without a tool) lets an
# integration test whose tool is missing skip and say why, and installs nothing with sudo.
ifeq ($(DPLOY_ALLOW_SKIP),1)
export DPLOY_REQUIRE_INTEGRATION := 0
else
export DPLOY_REQUIRE_INTEGRATION := 1
endif

all: build

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# dploy links Debian's libgit2, SQLite, libcurl, OpenSSL (libssl), libssh2 and libpq; install them (with sudo when not root) if missing.
deps:
	@pkg-config --exists libgit2 sqlite3 libcurl openssl libssh2 libpq 2>/dev/null || bash .ci/setup build

# dploy's main job on the example lab: validate (from the folder, then from this
# repository's own git HEAD, as the controller reads it), plan (exit 2: changes pending,
# which on a fresh lab they are), then run the controller: `dploy serve` with the embedded
# SQLite store on 127.0.0.1:8080 (DEMO_LISTEN), printing the web page's URL, until Ctrl-C.
# The lab is plan-only: the daemon shows its plan and changes nothing.
DEMO_LISTEN ?= 127.0.0.1:8080
demo: build
	$(SWIFT) run $(BUILD_FLAGS) dploy validate $(LAB)
	$(SWIFT) run $(BUILD_FLAGS) dploy validate $(LAB) --show web-04
	@if git rev-parse -q --verify HEAD >/dev/null 2>&1; then \
	  $(SWIFT) run $(BUILD_FLAGS) dploy validate --source . --ref HEAD --path $(LAB); fi
	$(SWIFT) run $(BUILD_FLAGS) dploy plan --config $(LAB)/dploy.yaml || [ $$? -eq 2 ]
	$(SWIFT) run $(BUILD_FLAGS) dploy serve --config $(LAB)/dploy.yaml --listen $(DEMO_LISTEN)

# The whole suite, nothing skipped: installs what is missing (test-deps: Debian packages
# through .ci/setup, with sudo when not root; tools: the Python venv), builds with the
# warning check (.ci/check-warnings: a warning located in Sources/, Tests/ or bench/ fails),
# runs every test, then the Debian package installed, checked and purged (package-test).
test: test-deps tools
	bash .ci/check-warnings
	$(SWIFT) test --skip-build $(BUILD_FLAGS)
	$(MAKE) package-test

# Debian packages the tests run (DHCP checkers, sshd, Chromium, lintian, …): installed by
# .ci/setup when `.ci/setup check` finds one missing. With DPLOY_ALLOW_SKIP=1, only listed.
test-deps: deps
	@bash .ci/setup check || { \
	  if [ "$(DPLOY_REQUIRE_INTEGRATION)" = 1 ]; then \
	    bash .ci/setup || { echo "error: could not install the test packages; run: sudo bash .ci/setup" >&2; exit 1; }; \
	  else echo "DPLOY_ALLOW_SKIP=1: the tests that need them skip (install them: sudo bash .ci/setup)"; fi; }

# The Python tools of .ci/python-tools.txt in $(DPLOY_TOOLS_DIR)/venv (quiet when current).
tools:
	@bash .ci/python-tools || [ "$(DPLOY_REQUIRE_INTEGRATION)" != 1 ] \
	  || { echo "DPLOY_ALLOW_SKIP=1 make test skips the tests that need them" >&2; exit 1; }
test-tools: tools

# Every file of ours compiled again (touched, dependencies untouched), so that every
# warning prints: an incremental build is silent about files it does not recompile.
warnings:
	bash .ci/check-warnings --all

# End to end (tests/e2e, needs root): a QEMU machine PXE-boots through the dnsmasq config
# dploy wrote, is discovered, committed to git, installs once, boots its disk, reinstalls
# once on a generation bump, and gets a disk image restored once by an imageRestore task
# started through its Redfish BMC; then pxelinux, GRUB and iPXE on UEFI (OVMF) and proxyDHCP.
# All inside network namespaces it makes and removes; about 8 min.
e2e: build
	bash tests/e2e/setup.sh
	DPLOY="$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/dploy" bash tests/e2e/run.sh

# dploy_VERSION_ARCH.deb in .build-deb/: a release build with the Swift runtime linked in,
# the systemd unit, the dploy user, completions, man page, schemas, example (packaging/).
deb: deps
	bash packaging/build-deb.sh

# Builds the .deb, lintian, dpkg -i on this machine, checks, upgrade, remove, purge, and
# checks nothing is left. Needs root: otherwise skips, or fails with DPLOY_REQUIRE_INTEGRATION=1.
package-test: deps
	bash packaging/test-package.sh

# Figures for 10,000 generated machines (load vs PyYAML's C loader, git, plan, apply), then
# GET /boot.ipxe from dploy serve against nginx serving the same bytes (wrk, loopback), then
# 1,000 emulated BMCs observed by `dploy bmc status` against Python's sushy client.
bench: deps tools
	$(SWIFT) build -c release --product dploy
	$(SWIFT) build -c release --product dploy-bench
	$(DPLOY_TOOLS_BIN)/python3 bench/run.py --dploy .build/release/dploy --dploy-bench .build/release/dploy-bench --machines 10000
	python3 bench/daemon.py --dploy .build/release/dploy --machines 10000
	@command -v wrk >/dev/null && command -v nginx >/dev/null && [ -x /usr/lib/postgresql/15/bin/postgres ] || bash .ci/setup bench
	python3 bench/daemon.py --dploy .build/release/dploy --machines 10000 --store postgres
	python3 bench/boot_http.py --dploy .build/release/dploy
	python3 bench/boot_http.py --dploy .build/release/dploy --store postgres
	PATH="$(DPLOY_TOOLS_BIN):$$PATH" $(DPLOY_TOOLS_BIN)/python3 bench/bmc.py --dploy .build/release/dploy --bmcs 1000 --concurrency 16,64
	python3 bench/rollout.py --dploy .build/release/dploy --bmcs 1000 --max-parallel 16,64

# dploy beside Cobbler 3.3.10 on the same generated fleet (BENCH_MACHINES, 10,000): every
# file from nothing, nothing changed, one machine's IP changed, peak RSS, as issue 20's table
# with ratios (medians of BENCH_RUNS runs). Cobbler is pip-installed into bench/out/cobbler
# on the first run (network), never by `make test`; it runs as root in a mount namespace
# whose overlays keep its hard-coded /etc, /var and /srv paths inside bench/out (bench/vs_cobbler.py).
# About 6 minutes at 10,000 machines; BENCH_MACHINES=1000 for a quick check.
BENCH_MACHINES ?= 10000
BENCH_RUNS ?= 3
bench-cobbler: deps tools
	$(SWIFT) build -c release --product dploy
	@command -v rsync >/dev/null || bash .ci/setup bench
	$(DPLOY_TOOLS_BIN)/python3 bench/vs_cobbler.py --dploy .build/release/dploy --machines $(BENCH_MACHINES) --runs $(BENCH_RUNS)

# Coverage-guided fuzzing (Fuzz/, CONTRIBUTING.md "Fuzzing"): builds dploy-fuzz with libFuzzer
# and AddressSanitizer in .build-fuzz (never part of `swift build`), then runs the YAML gate and
# spec loader, the lshw parser, the Redfish document parsers and the boot-script renderers for
# FUZZ_SECONDS each. Fails on a crash, a broken invariant, a hang or an OOM, and prints the
# reproducer (.build-fuzz/artifacts/TARGET/) and the command that replays it.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) bash Fuzz/run.sh

# Installs the system packages and Python tools the tests need (Debian; root or sudo).
setup:
	bash .ci/setup

clean:
	rm -rf .build .build-deb .build-tools .build-fuzz bench/out
