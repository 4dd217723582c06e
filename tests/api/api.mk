# Live tests of the per-VM API socket against a running counter guest. Included by the
# top-level Makefile (or used as `make -f Makefile -f tests/api/api.mk check-api`).
#
#   make check-api    build $(BUILD)/tests/api/api_test, then tests/api/run.sh (the
#                     socket against a live VM) and tests/api/fc_compat.sh (Firecracker
#                     client stacks' call sequences, replayed)
#
# api_test is a raw HTTP/1.1 client of its own (not src/api/api_client.c), so the bytes on
# the wire are what is checked. It needs only jansson.

API_TEST_BIN := $(BUILD)/tests/api/api_test

.PHONY: check-api

$(API_TEST_BIN): tests/api/api_test.c tests/api/api.mk
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -ljansson

# Both scripts run even when the first fails; the target fails if either did.
# One KVM (tests/kvm-host.sh, see the Makefile) for both.
check-api: $(BUILD)/ember guests $(API_TEST_BIN)
	@$(KVM_HOST) --name "check-api$(TIER_SUFFIX)" \
		env EMBER=$(BUILD)/ember GUESTS=$(BUILD)/guests API_TEST=$(API_TEST_BIN) \
		bash -c 'rc=0; tests/api/run.sh || rc=1; tests/api/fc_compat.sh || rc=1; exit $$rc'

