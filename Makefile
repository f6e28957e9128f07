# nebenkosten: one non-recursive Makefile. Each module describes itself in <dir>/module.mk.
#
#   make            release build (jemalloc) into build/release
#   make test       everything CI runs: ASan+UBSan build, unit, fuzz-corpus and integration tests
#   make run        local InfluxDB 1.x under var/ and meter-relay in front of it
#   make deps       installs the Debian packages that are missing
#
# Build modes: SANITIZE=1 (ASan+UBSan, libc malloc) and FUZZ=1 (clang, libFuzzer) use their own
# build directories, so switching modes never mixes objects.

.DEFAULT_GOAL := all
SHELL := /bin/bash
.DELETE_ON_ERROR:

SANITIZE ?= 0
FUZZ ?= 0
BUILD_ROOT ?= build
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60

PACKAGES := libevent libcurl libcjson yaml-0.1 zlib
# pkg-config may not know the packages yet when `make deps` runs on a fresh machine.
PACKAGE_CFLAGS := $(shell pkg-config --cflags $(PACKAGES) 2>/dev/null)
PACKAGE_LIBS := $(shell pkg-config --libs $(PACKAGES) 2>/dev/null) -lhttp_parser -lm -pthread
CRITERION_LIBS := $(shell pkg-config --libs criterion 2>/dev/null)

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla -Werror
CFLAGS ?= -O2 -g
SANITIZER_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifeq ($(FUZZ),1)
CC := clang
BUILD := $(BUILD_ROOT)/fuzz
MODE_FLAGS := $(SANITIZER_FLAGS) -fsanitize=fuzzer-no-link
ALLOCATOR_LIBS :=
else ifeq ($(SANITIZE),1)
BUILD := $(BUILD_ROOT)/sanitize
MODE_FLAGS := $(SANITIZER_FLAGS)
ALLOCATOR_LIBS :=
else
BUILD := $(BUILD_ROOT)/release
MODE_FLAGS :=
ALLOCATOR_LIBS := $(shell pkg-config --libs jemalloc 2>/dev/null)
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) $(MODE_FLAGS) -I. $(PACKAGE_CFLAGS) \
	-DNEBENKOSTEN_VERSION='"$(VERSION)"' -DNEBENKOSTEN_COMMIT='"$(GIT_COMMIT)"' -MMD -MP
ALL_LDFLAGS := $(MODE_FLAGS) $(LDFLAGS)

# Filled in by the module.mk files.
BINARIES :=
UNIT_TESTS :=
FUZZ_TARGETS :=
BENCHMARKS :=
BENCH_TOOLS :=
OBJECTS :=

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The version and commit are compiled into a few objects (--version, /health, User-Agent). This
# stamp is rewritten only when either changes, so those objects are rebuilt then and only then
# (git's GIT-VERSION-FILE trick): a binary never shows the commit of an earlier build.
BUILD_INFO := $(BUILD)/build-info
BUILD_INFO_USERS := config/command relay/http_status relay/http_client relay/influx_client
$(BUILD_INFO): FORCE
	@mkdir -p $(@D)
	@echo '$(VERSION) $(GIT_COMMIT)' | cmp -s - $@ || echo '$(VERSION) $(GIT_COMMIT)' >$@
$(BUILD_INFO_USERS:%=$(BUILD)/%.o): $(BUILD_INFO)
FORCE:

# $(call module_library,NAME,SOURCES): a static library of one module.
define module_library
$(1)_OBJECTS := $$(patsubst %.c,$$(BUILD)/%.o,$(2))
$(1)_LIBRARY := $$(BUILD)/lib/lib$(1).a
OBJECTS += $$($(1)_OBJECTS)
$$($(1)_LIBRARY): $$($(1)_OBJECTS)
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$^
endef

# Dependencies point downwards (batch -> stream -> relay -> config), so modules are read in that
# order: a module.mk may name the libraries of the modules below it.
MODULES := config relay stream batch tests bench
include $(MODULES:%=%/module.mk)

-include $(OBJECTS:.o=.d)

.PHONY: all test check check-unit check-fuzz-corpus check-integration check-clients check-crash check-valgrind unit-tests fuzz-targets \
	benchmarks fuzz fuzz-run bench run stop deps format format-check install install-files \
	install-relay test-install test-docker-image clean FORCE
all: $(BINARIES)

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# `make test` is what CI runs: formatting, the sanitizer build and every suite, the fuzz targets
# over their committed corpora, then the release build with the unit tests under valgrind, and
# last make test-install (a fresh Debian 12 root from checkout to a running relay: about 40 s with
# var/test-install cached, a few minutes the first time).
# Builds run in parallel, suites one after another.
test: format-check
	$(MAKE) -j$(JOBS) SANITIZE=1 all unit-tests
	$(MAKE) SANITIZE=1 check
	$(MAKE) -j$(JOBS) FUZZ=1 fuzz-targets
	$(MAKE) FUZZ=1 check-fuzz-corpus
	$(MAKE) -j$(JOBS) all unit-tests benchmarks
	$(MAKE) check-valgrind
	$(MAKE) test-install

unit-tests: $(UNIT_TESTS)
fuzz-targets: $(FUZZ_TARGETS)
benchmarks: $(BENCHMARKS) $(BENCH_TOOLS)

# The unit tests under valgrind memcheck (release build: no sanitizer runtime in the way).
check-valgrind: $(UNIT_TESTS)
	tests/valgrind.sh $(UNIT_TESTS)

check: check-unit check-integration check-clients check-crash

check-unit: $(UNIT_TESTS)
	@status=0; for t in $(UNIT_TESTS); do \
	    echo "== $$t"; $$t --jobs 2 || status=1; \
	done; exit $$status

check-integration: $(BINARIES)
	BIN_DIR=$(abspath $(BUILD)/bin) tests/integration/run.sh

# The official client libraries (npm, locked in tests/clients/package-lock.json) against the relay.
check-clients: $(BINARIES)
	BIN_DIR=$(abspath $(BUILD)/bin) tests/clients/run.sh

# kill -9 and full-disk loops: every acknowledged point survives.
check-crash: $(BINARIES)
	BIN_DIR=$(abspath $(BUILD)/bin) tests/crash/run.sh

check-fuzz-corpus: $(FUZZ_TARGETS)
	@status=0; for t in $(FUZZ_TARGETS); do \
	    name=$${t##*/fuzz_}; echo "== $$t over tests/fuzz/corpus/$$name"; \
	    $$t -runs=0 tests/fuzz/corpus/$$name 2>&1 | tail -n 2 || status=1; \
	    [ $${PIPESTATUS[0]} -eq 0 ] || status=1; \
	done; exit $$status

# Runs every fuzz target for FUZZ_SECONDS; new inputs land in build/, not in the committed corpus.
fuzz:
	$(MAKE) FUZZ=1 fuzz-run

fuzz-run: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	    name=$${t##*/fuzz_}; mkdir -p $(BUILD)/corpus/$$name; \
	    echo "== fuzzing $$name for $(FUZZ_SECONDS)s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/ $(BUILD)/corpus/$$name tests/fuzz/corpus/$$name || exit 1; \
	done

bench: $(BENCHMARKS)
	@for b in $(BENCHMARKS); do echo "== $$b"; $$b || exit 1; done

run: deps
	$(MAKE) all
	deploy/run-local.sh start

stop:
	deploy/run-local.sh stop

deps:
	deploy/install-packages.sh

SOURCES_TO_FORMAT = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(SOURCES_TO_FORMAT)

format-check:
	clang-format --dry-run --Werror $(SOURCES_TO_FORMAT)

# make install: the programs into PREFIX/bin, the configuration of an installed system into
# SYSCONFDIR/nebenkosten (kept when present; secrets/ mode 700), state under
# LOCALSTATEDIR/lib/nebenkosten, systemd units into UNITDIR, logrotate (deploy/install.sh says
# more). install-files does the same without building (INSTALL_BIN_DIR: where the programs are).
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_BIN_DIR ?= $(abspath $(BUILD)/bin)
install: all
	$(MAKE) --no-print-directory install-files

install-files:
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' SYSCONFDIR='$(SYSCONFDIR)' \
	    LOCALSTATEDIR='$(LOCALSTATEDIR)' UNITDIR='$(UNITDIR)' BIN_DIR='$(INSTALL_BIN_DIR)' \
	    deploy/install.sh

# A Debian 12 machine or Proxmox LXC from a clone to a running relay: packages, release build,
# the nebenkosten user, make install, systemd enable and start (deploy/proxmox/README.md).
# Idempotent. WITH_INFLUXDB=1 also installs Debian's InfluxDB 1.x and creates the databases.
install-relay:
	deploy/proxmox/install-relay.sh

# A fresh Debian 12 root (debootstrap, cached under var/test-install) goes from a clean copy of
# this checkout to a relay answering /health with `make install-relay` alone.
test-install:
	tests/deploy/test_install.sh

# deploy/docker/Dockerfile built with podman on the cached Debian 12 root (no registry, no Docker
# engine here) and its entrypoint run from the image's file system. Not part of make test.
test-docker-image:
	tests/deploy/test_docker_image.sh

clean:
	rm -rf $(BUILD_ROOT)
