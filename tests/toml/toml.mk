# TOML conformance against the toml-test vectors (tests/toml/run.sh). Included by the
# top-level Makefile (or used as `make -f Makefile -f tests/toml/toml.mk check-toml`).
#
#   make check-toml   build $(BUILD)/tests/toml/toml2json and run every TOML 1.0.0 vector
#                     of ${TOML_TEST_DIR:-../shared/toml-test}

TOML2JSON := $(BUILD)/tests/toml/toml2json

$(TOML2JSON): tests/toml/toml2json.c $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libember.a $(LDLIBS) -lm

.PHONY: check-toml
check-toml: $(TOML2JSON)
	@tests/toml/run.sh $(TOML2JSON)
