# MMDS against the host kernel's real TCP/IP stack (curl, busybox wget) in a private
# network namespace, no VM. Included by the top-level Makefile.
#
#   make check-mmds   build $(BUILD)/tests/mmds/mmds_tap, then tests/mmds/run.sh (root)

MMDS_TAP_BIN := $(BUILD)/tests/mmds/mmds_tap

.PHONY: check-mmds

$(MMDS_TAP_BIN): tests/mmds/mmds_tap.c $(BUILD)/libember.a tests/mmds/mmds.mk
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libember.a $(LDLIBS)

check-mmds: $(MMDS_TAP_BIN)
	@tests/mmds/run.sh $(BUILD)
