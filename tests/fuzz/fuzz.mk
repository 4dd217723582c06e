# libFuzzer targets for the code that takes untrusted input: the kernel image parser and
# loader, and the device models the guest drives. Included by the top-level Makefile
# (or used as `make -f Makefile -f tests/fuzz/fuzz.mk TARGET`).
#
#   make fuzz-build   build-fuzz/fuzz_<target>, clang -fsanitize=fuzzer,address,undefined
#   make fuzz-smoke   each target for FUZZ_SMOKE_SECONDS (default 20) from the seed corpus;
#                     fails if any finds a crash, leak or timeout
#   make fuzz-long    the same for FUZZ_SECONDS (default 600) each, by hand
#
# FUZZ_EXTRA_CFLAGS adds compiler flags; FUZZ_BUILD=dir keeps such a build apart.
#
# Seeds: tests/fuzz/corpus/<target>/ (regenerate with tests/fuzz/gen_seeds.py). What the
# fuzzers discover goes to build-fuzz/corpus/<target>/, crashes to
# build-fuzz/artifacts/<target>/. clang and libFuzzer are installed on demand
# (tests/fuzz/ensure-clang.sh). The sources are compiled straight into each fuzzer, not
# taken from libember.a, so they carry the fuzzer's coverage instrumentation.

FUZZ_CC            ?= clang
FUZZ_BUILD         ?= build-fuzz
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS       := kernel_image serial i8042 virtqueue virtio_blk virtio_net virtio_mmio \
                      virtio_vsock toml http fc_api mmds_http mmds_stack

FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wconversion -Wsign-conversion -Wno-unused-parameter -DEMBER_VERSION='"fuzz"' \
        -D_GNU_SOURCE -Isrc -fno-strict-aliasing $(FUZZ_EXTRA_CFLAGS)

FUZZ_SRCS_kernel_image := src/arch/x86/kernel_image.c src/arch/x86/boot.c \
        src/arch/x86/e820.c src/arch/x86/mptable.c src/mem/guest_mem.c \
        src/util/err.c src/util/log.c
FUZZ_SRCS_serial := src/devices/serial.c
FUZZ_SRCS_i8042  := src/devices/i8042.c
FUZZ_SRCS_virtqueue := src/devices/virtio/virtqueue.c src/mem/guest_mem.c src/util/err.c \
        src/util/log.c
FUZZ_SRCS_virtio_mmio := src/devices/virtio/virtio_mmio.c $(FUZZ_SRCS_virtqueue)
FUZZ_SRCS_virtio_blk := src/devices/virtio/virtio_blk.c src/devices/virtio/worker.c \
        $(FUZZ_SRCS_virtio_mmio)
FUZZ_SRCS_virtio_vsock := src/devices/virtio/virtio_vsock.c src/devices/virtio/vsock_host.c \
        src/devices/virtio/vsock_conn.c src/util/fd_reserve.c \
        src/devices/virtio/worker.c $(FUZZ_SRCS_virtio_mmio)
FUZZ_SRCS_toml := src/config/toml.c src/config/toml_value.c src/util/err.c
FUZZ_SRCS_fc_config := src/api/api_routes.c src/api/api_preboot.c src/config/fc_config.c \
        src/config/fc_config_doc.c src/mmds/mmds_store.c src/util/cmdline.c src/util/err.c \
        src/util/log.c
FUZZ_SRCS_http := src/api/http.c $(FUZZ_SRCS_fc_config)
FUZZ_SRCS_fc_api := $(FUZZ_SRCS_fc_config)
FUZZ_SRCS_mmds_http := src/mmds/mmds_http.c src/mmds/mmds_store.c
FUZZ_SRCS_mmds_stack := src/mmds/mmds_stack.c $(FUZZ_SRCS_mmds_http)
FUZZ_SRCS_virtio_net := src/devices/virtio/virtio_net.c src/devices/virtio/worker.c \
        $(FUZZ_SRCS_mmds_stack) $(FUZZ_SRCS_virtio_mmio)

FUZZ_HEADERS := $(shell find src -name '*.h')
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz-deps fuzz-build fuzz-smoke fuzz-long

fuzz-deps:
	@tests/fuzz/ensure-clang.sh $(FUZZ_CC)

define FUZZ_RULE
$(FUZZ_BUILD)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) $(FUZZ_HEADERS) \
		tests/fuzz/fuzz.mk | fuzz-deps
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) -ljansson -lpthread
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

fuzz-build: $(FUZZ_BINS)

fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

fuzz-long: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
