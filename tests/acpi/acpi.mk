# ACPI tables through ACPICA's own tools (acpica-tools): the disassembler must accept
# every table without errors and the interpreter must evaluate the devices' _CRS.
$(BUILD)/tests/acpi/acpi_dump: tests/acpi/acpi_dump.c $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libember.a $(LDLIBS)

.PHONY: check-acpi
check-acpi: $(BUILD)/tests/acpi/acpi_dump
	@tests/acpi/run.sh $(BUILD)/tests/acpi/acpi_dump
