# dploy — the two commands of the README, and the rest of the developer loop.
# `make demo` builds dploy and runs its main job on the example lab; `make test` runs
# every test. Both use only the embedded store: no other server.

SWIFT ?= swift
BUILD_FLAGS ?=
LAB ?= examples/lab

.PHONY: all build deps demo test test-tools package-test e2e deb bench clean setup

all: build

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# dploy links Debian's libgit2, SQLite, libcurl, OpenSSL (libssl) and libssh2; install them (with sudo when not root) if missing.
deps:
	@pkg-config --exists libgit2 sqlite3 libcurl openssl libssh2 2>/dev/null || bash .ci/setup build

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

# The whole suite: unit, integration (check-jsonschema) and the mutation corpus, then the
# Debian package installed, checked and purged (skipped when not root, see package-test).
test: deps test-tools
	$(SWIFT) test $(BUILD_FLAGS)
	$(MAKE) package-test

# End to end (tests/e2e, needs root): a QEMU machine PXE-boots through the dnsmasq config
# dploy wrote, is discovered, committed to git, installs once, boots its disk, reinstalls
# once on a generation bump, and gets a disk image restored once by an imageRestore task
# started through its Redfish BMC. All inside a network namespace it makes and removes; ~3.5 min.
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

# The schema agreement test runs the real check-jsonschema; fetch it from PyPI if missing.
test-tools:
	@command -v git >/dev/null || bash .ci/setup
	@command -v check-jsonschema >/dev/null \
	  || python3 -m pip install --quiet --user 'check-jsonschema>=0.29' \
	  || python3 -m pip install --quiet --user --break-system-packages 'check-jsonschema>=0.29' \
	  || echo "warning: could not install check-jsonschema; the schema agreement test will skip"

# Figures for 10,000 generated machines (load vs PyYAML's C loader, git, plan, apply), then
# GET /boot.ipxe from dploy serve against nginx serving the same bytes (wrk, loopback), then
# 1,000 emulated BMCs observed by `dploy bmc status` against Python's sushy client.
bench: deps
	$(SWIFT) build -c release --product dploy
	$(SWIFT) build -c release --product dploy-bench
	python3 bench/run.py --dploy .build/release/dploy --dploy-bench .build/release/dploy-bench --machines 10000
	python3 bench/daemon.py --dploy .build/release/dploy --machines 10000
	@command -v wrk >/dev/null && command -v nginx >/dev/null || bash .ci/setup bench
	python3 bench/boot_http.py --dploy .build/release/dploy
	@command -v sushy-emulator >/dev/null && python3 -c 'import sushy, bcrypt' 2>/dev/null \
	  || python3 -m pip install --quiet 'sushy-tools>=2.2' 'bcrypt>=4' sushy \
	  || python3 -m pip install --quiet --break-system-packages 'sushy-tools>=2.2' 'bcrypt>=4' sushy
	python3 bench/bmc.py --dploy .build/release/dploy --bmcs 1000 --concurrency 16,64

# Installs the system packages and Python tools the tests need (Debian; run as root).
setup:
	bash .ci/setup

clean:
	rm -rf .build .build-deb bench/out
