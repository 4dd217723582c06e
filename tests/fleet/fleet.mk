# Fleet tests: `ember up` and the fleet commands against small guests (tests/fleet/run.sh).
# Can be included by the top-level Makefile (or used as
# `make -f Makefile -f tests/fleet/fleet.mk check-fleet`).

.PHONY: check-fleet

check-fleet: $(BUILD)/ember guests
	@$(KVM_HOST) --name "check-fleet$(TIER_SUFFIX)" \
		env EMBER=$(BUILD)/ember GUESTS=$(BUILD)/guests tests/fleet/run.sh
