# silo's build, test and benchmark entry points. `make help` lists them.

GO        ?= go
PREFIX    ?= /usr/local
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PKGS      := ./...
# The test timeout covers the VM tests, which boot under TCG here.
TESTFLAGS ?= -timeout 40m

.PHONY: help build install test test-short bench lint fuzz demo clean kernel deps

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## Build ./silo and ./silo-agent (static; silo is also an agent, silo-agent a lean one).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o silo ./cmd/silo
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o silo-agent ./cmd/silo-agent

install: build ## Install silo into $(PREFIX)/bin.
	install -m 0755 silo silo-agent $(PREFIX)/bin/

deps: ## Install the Debian packages the tests use, if any is missing.
	./scripts/deps.sh

kernel: deps ## Fetch Debian's stock kernel into .cache/kernel (for VM tests).
	./scripts/fetch-kernel.sh >/dev/null

test: deps build kernel ## Run every test, VM tests included.
	$(GO) test $(TESTFLAGS) $(PKGS)

test-short: ## Run the fast tests only.
	$(GO) test -short $(PKGS)

bench: deps build kernel ## Run the benchmarks (figures, not pass/fail).
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m $(PKGS)

lint: ## gofmt, go vet and staticcheck.
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(PKGS)
	staticcheck $(PKGS)

fuzz: ## Fuzz the config loader for a minute, the proxy's parsers for 30 s each.
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 5s ./lock
	$(GO) test -run '^$$' -fuzz FuzzPolicy -fuzztime 30s -fuzzminimizetime 5s ./vm/netproxy
	$(GO) test -run '^$$' -fuzz FuzzServeConn -fuzztime 30s -fuzzminimizetime 5s ./vm/netproxy

demo: build ## Run silo's main job offline on an embedded default.
	./scripts/demo.sh

clean: ## Remove build outputs.
	rm -f silo silo-agent
