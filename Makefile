# Ponte: edge gateway and urban digital twin.
# `make demo` runs the main job, `make test` runs every test (see README.md).

GO        ?= go
BIN       := bin
# Every binary under cmd/ (ponte-edge and ponte-ingest join as they land).
CMDS      := $(notdir $(patsubst %/main.go,%,$(wildcard cmd/*/main.go)))
# What a fresh Debian machine lacks, deploy/bootstrap brings before each
# target that needs it (a silent no-op, about 0.2 s, when all is present):
# Debian packages through apt-get, Go-built tools (influxd 1.8.10,
# staticcheck) into $(TOOLS)/bin, first on PATH for everything make runs.
BOOTSTRAP_TOOLS ?= $(CURDIR)/.tools
TOOLS     := $(abspath $(BOOTSTRAP_TOOLS))
export BOOTSTRAP_TOOLS := $(TOOLS)
ifeq ($(findstring $(TOOLS)/bin:,$(PATH)),)
export PATH := $(TOOLS)/bin:$(PATH)
endif
BOOTSTRAP := bash deploy/bootstrap
LDFLAGS   := -s -w
# Race detector on; integration tests start real Mosquitto and socat.
TEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: all web opendata-shacl build build-host build-arm check-arm deb deb-install-test test test-short lint fault ha bench demo screenshots fuzz clean

all: build

# The operators' map and the indicators page: front-end libraries from npm
# (package-lock.json), bundled into twin/web/dist and embedded in
# ponte-ingest. Rebuilt when a source or the lockfile changes.
WEB_SRC := $(shell find twin/web/src -type f 2>/dev/null) twin/web/build.mjs twin/web/package-lock.json
twin/web/dist/map/index.html: $(WEB_SRC)
	@$(BOOTSTRAP) web
	@echo "installing the pages' npm packages (maplibre-gl, esbuild) with npm ci, then bundling them ..."
	cd twin/web && npm ci --no-audit --no-fund && npm run build

web: twin/web/dist/map/index.html

# The open data catalogue's validator (twin/opendata/shacl: rdf-validate-shacl,
# jsonld, n3 from package-lock.json), which twin/opendata's integration test
# runs. Reinstalled when the lockfile changes.
twin/opendata/shacl/node_modules/.package-lock.json: twin/opendata/shacl/package-lock.json
	@$(BOOTSTRAP) web
	cd twin/opendata/shacl && npm ci --no-audit --no-fund

opendata-shacl: twin/opendata/shacl/node_modules/.package-lock.json

build: build-host build-arm

build-host: web
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

# Static binaries for the roadside boxes.
build-arm: web
	@mkdir -p $(BIN)/linux-arm64 $(BIN)/linux-armv7
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/ $(addprefix ./cmd/,$(CMDS))
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-armv7/ $(addprefix ./cmd/,$(CMDS))

# Runs the ARM binaries under qemu-user-static, as on the boxes.
check-arm:
	@$(BOOTSTRAP) check-arm
	@$(MAKE) --no-print-directory build-arm
	@bash deploy/arm/check

# Debian packages ponte-edge and ponte-ingest for amd64, arm64 and armhf
# in dist/ (nfpm, deploy/deb), then their check (deploy/deb/check: the
# contents and conffiles, systemd-analyze verify of the units, the arm64
# ponte-edge run under qemu-aarch64-static). About a minute and a half;
# not part of make test. VERSION: the tag (v1.2.0-3-gabc: 1.2.0+3.gabc),
# else 0.0.0+git.<commits>.<sha>.
VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo "$${v\#v}" | sed 's/-\([0-9]*\)-g/+\1.g/' || echo "0.0.0+git.$$(git rev-list --count HEAD 2>/dev/null || echo 0).$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)")
DEB_ARCHES ?= amd64 arm64 armhf
deb:
	@$(BOOTSTRAP) deb
	@$(MAKE) --no-print-directory web
	bash deploy/deb/build $(VERSION) $(DEB_ARCHES)
	bash deploy/deb/check $(VERSION) $(DEB_ARCHES)

# Installs, upgrades (to $(VERSION)+up1), removes and purges the amd64
# packages on this machine with dpkg and checks each step
# (deploy/deb/install-test): as root only, on a machine without Ponte
# installed, which it leaves as it found it. Uses make deb's packages
# (builds amd64 ones when missing). About two minutes; in CI, not in make test.
deb-install-test:
	@$(BOOTSTRAP) deb
	@$(MAKE) --no-print-directory web
	bash deploy/deb/install-test $(VERSION)

# Everything: unit and integration tests (real Mosquitto, InfluxDB, socat,
# Chromium). npm runs only when the pages are not built or a source changed.
test:
	@$(BOOTSTRAP) test
	@$(MAKE) --no-print-directory web opendata-shacl
	$(GO) test $(TEST_FLAGS) ./...

# Unit tests only: Go alone, no component, no npm (about two minutes).
test-short:
	$(GO) test -short -count=1 ./...

# -tags fault,ha: the fault suite (e2e/fault) and the high-availability
# test (e2e/ha) are vetted too. No npm: the pages' embed holds at least
# dist/README.txt.
lint:
	@$(BOOTSTRAP) lint
	$(GO) vet -tags fault,ha ./...
	staticcheck -tags fault,ha ./...

# The fault suite: five minutes of faults against the real binaries, once
# with the embedded broker and once with Mosquitto (about 13 minutes in all).
# Needs influxd 1.8.10, mosquitto; see e2e/fault.
FAULT_FLAGS ?= -count=1 -timeout 20m -v
fault:
	@$(BOOTSTRAP) test
	@$(MAKE) --no-print-directory web
	$(GO) test -tags fault $(FAULT_FLAGS) ./e2e/fault

# The high-availability system test (issue 14): two ingest instances on a
# three-node NATS cluster, twenty gateways, kill -9 of a node and of an
# instance under load (about three minutes). Needs nats-server 2.15
# (built into $(TOOLS)/bin by the bootstrap) and influxd 1.8.10; see e2e/ha.
HA_FLAGS ?= -count=1 -timeout 20m -v
ha:
	@$(BOOTSTRAP) test
	$(GO) test -tags ha $(HA_FLAGS) ./e2e/ha

# Every figure on its own line as "bench <name> <value> <unit>".
bench:
	@$(BOOTSTRAP) test
	@$(MAKE) --no-print-directory web
	@bash benchmarks/run

# Short coverage-guided runs of every fuzz target (seed corpora already run in `make test`).
FUZZTIME ?= 30s
fuzz:
	@bash benchmarks/fuzz $(FUZZTIME)

# Brings what the demo lacks first, so a fresh machine is asked for at
# most one command.
demo:
	@$(BOOTSTRAP) demo
	@$(MAKE) --no-print-directory build-host
	@bash deploy/demo/run

# The README's screenshots: the demo until its sites are fresh, then the
# operators' map and the indicators page from headless Chromium.
SCREENSHOTS ?= docs/screenshots
screenshots:
	@$(BOOTSTRAP) test
	@$(MAKE) --no-print-directory build-host
	@DEMO_SCREENSHOTS=$(SCREENSHOTS) bash deploy/demo/run

# Keeps $(TOOLS) (influxd takes minutes to build); rm -rf .tools to rebuild it.
clean:
	rm -rf $(BIN) twin/web/node_modules twin/opendata/shacl/node_modules
	find twin/web/dist -mindepth 1 ! -name README.txt -delete 2>/dev/null || true
