# Ember build. Out-of-tree objects under build/ (normal) and build-asan/ (ASan+UBSan).
#
#   make              build/ember
#   make check        every test tier (the README's test command)
#   make check-unit   tier 1: unit tests, no KVM
#   make check-kvm    tier 2: direct KVM tests with the project's own small guests
#   make check-asan   tiers 1 and 2 (and check-mmds) again under ASan+UBSan
#   make check-toml   the toml-test conformance vectors (TOML 1.0.0)
#   make check-api    the API socket against a live VM
#   make check-fleet  ember up and the fleet commands against live VMs
#   make check-mmds   MMDS against the host kernel's TCP/IP stack in a network namespace
#   make check-fuzz   short libFuzzer runs over every parser of untrusted input
#   make check-nested tier 3: Debian's stock kernel on real KVM inside the nested test host
#   make demo         boot a Linux guest to a shell (nested test host when host KVM cannot)

CC      ?= gcc
BUILD   ?= build
VERSION := 0.1.0

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wconversion -Wsign-conversion -Wpointer-arith -Wcast-align \
        -Wundef -Wvla -Wimplicit-fallthrough -Wnull-dereference
CFLAGS_BASE := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -DEMBER_VERSION='"$(VERSION)"' \
        -Isrc -MMD -MP -fno-strict-aliasing
LDLIBS  := -ljansson -lpthread

# The VMM is linked statically: no dynamic loader work at start-up (about 0.9 MiB less
# RSS and 0.2 ms less CPU per VM, measured by bench/), and a jailer can copy one file.
EMBER_LDFLAGS := -static

ifeq ($(SAN),1)
  BUILD := build-asan
  CFLAGS_BASE += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
  EMBER_LDFLAGS :=
endif

CFLAGS := $(CFLAGS_BASE) $(EXTRA_CFLAGS)

# Library sources: everything except the program entry point, so tests link the same objects.
LIB_SRCS := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_HARNESS := $(BUILD)/tests/unit/harness.o

.PHONY: all clean static check check-unit check-kvm check-asan check-nested check-fuzz demo guests bench

all: $(BUILD)/ember guests

$(BUILD)/ember: $(BUILD)/src/main.o $(BUILD)/libember.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $(EMBER_LDFLAGS) -o $@ $^ $(LDLIBS)

# `make static`: what a jailer copies into its chroot. The normal build is already static;
# this target says so and checks it (file(1) would need a package: read the ELF instead).
static: $(BUILD)/ember
	@if readelf -l $(BUILD)/ember | grep -q INTERP; then \
		echo "$(BUILD)/ember is dynamically linked (EMBER_LDFLAGS=$(EMBER_LDFLAGS))" >&2; exit 1; \
	else echo "$(BUILD)/ember: statically linked, no interpreter: copy it anywhere"; fi

# A fresh machine without the build's packages gets one line naming them, not a compiler
# error (scripts/deps.sh check-build installs nothing; `make demo` and `make check` do).
$(BUILD)/.deps-ok: scripts/deps.sh
	@scripts/deps.sh check-build
	@mkdir -p $(dir $@) && touch $@

$(LIB_OBJS) $(BUILD)/src/main.o: | $(BUILD)/.deps-ok

$(BUILD)/libember.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(UNIT_HARNESS): tests/unit/harness.c
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/tests/unit/test_%: tests/unit/test_%.c $(UNIT_HARNESS) $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(UNIT_HARNESS) $(BUILD)/libember.a $(LDLIBS)

include guests/guests.mk
-include tests/fuzz/fuzz.mk
include tests/toml/toml.mk
include tests/api/api.mk
include tests/fleet/fleet.mk
include tests/acpi/acpi.mk
include tests/mmds/mmds.mk

check-unit: $(UNIT_BINS) $(BUILD)/tests/acpi/acpi_dump
	@u=0; tests/unit/run.sh $(BUILD) $(UNIT_BINS) || u=1; \
	 tests/acpi/run.sh $(BUILD)/tests/acpi/acpi_dump || u=1; exit $$u

# Live-VM tiers run through tests/kvm-host.sh: on this machine's /dev/kvm when it is
# usable, else inside the nested test host (EMBER_KVM=auto|host|nested chooses).
KVM_HOST := tests/kvm-host.sh
TIER_SUFFIX := $(if $(filter 1,$(SAN)), (ASan),)

check-kvm: $(BUILD)/ember guests
	@$(KVM_HOST) --name "check-kvm$(TIER_SUFFIX)" \
		env EMBER=$(BUILD)/ember GUESTS=$(BUILD)/guests tests/kvm/run.sh

check-asan:
	@$(MAKE) --no-print-directory SAN=1 check-unit check-kvm check-api check-fleet check-mmds

check-nested: $(BUILD)/ember
	@EMBER=$(BUILD)/ember tests/nested/run.sh check

# Every tier, in order, even when one fails; the last line totals them.
check:
	@scripts/deps.sh test
	@tests/run-all.sh

demo:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory $(BUILD)/ember
	@EMBER=$(BUILD)/ember tests/nested/run.sh demo

check-fuzz:
	@$(MAKE) --no-print-directory fuzz-smoke

bench: $(BUILD)/ember guests
	@BUILD=$(BUILD) EMBER=$(BUILD)/ember bench/run.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
