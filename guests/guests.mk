# Tier-2 test guests (freestanding, run by tests/kvm/run.sh). Included by the top-level
# Makefile; everything lands in $(BUILD)/guests/. The guests never take the project's
# CFLAGS (no sanitizers, no host ABI): they have their own flags below.
#
#   bootinfo.elf          ELF at 0x100000: boot_params/e820/cmdline/initrd/MP table report
#   bootinfo.bzImage      same code as a bzImage: relocatable, pref_address 0x1000000,
#                         cmdline_size 255, initrd_addr_max 0x37ffffff, setup_sects 1
#   bootinfo-s0.bzImage   same, not relocatable (loaded at 0x100000, moves itself to
#                         0x1000000), setup_sects 0 (means 4), cmdline_size 2048
#   uart_irq.elf          COM1 in interrupt mode via the IOAPIC, echoes stdin upper-cased
#   smp.elf               INIT/SIPI/SIPI bring-up of every AP listed in the MP table
#   i8042_reset.elf, halt_forever.elf, triple_fault.elf   the ways a guest ends
#   flood.elf             prints serial lines as fast as it can, forever
#   virtio_blk.elf        virtio-mmio driver: virtio-blk, virtio-rng, virtio-net and virtio-vsock,
#                         hostile-driver modes

GUEST_CC   ?= gcc
GUEST_OUT  := $(BUILD)/guests
GUEST_OBJ  := $(GUEST_OUT)/obj
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-address-of-packed-member -ffreestanding -fno-builtin -fno-strict-aliasing \
        -fno-pic -fno-pie -mcmodel=small -mno-red-zone -mgeneral-regs-only \
        -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
        -fcf-protection=none -fno-tree-loop-distribute-patterns -Iguests/common -MMD -MP
GUEST_ASFLAGS := -g -Iguests/common -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
        -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -Wl,-T,guests/common/guest.ld
GUEST_ELF_ADDR := 0x100000
GUEST_BZ_ADDR  := 0x1000000

GUEST_COMMON := start isr idt lib mptable
GUEST_COMMON_OBJS := $(GUEST_COMMON:%=$(GUEST_OBJ)/common/%.o)

# name -> extra objects besides <name>.o
GUEST_NAMES := bootinfo uart_irq smp i8042_reset halt_forever triple_fault virtio_blk counter idle \
        flood
GUEST_EXTRA_smp := $(GUEST_OBJ)/smp_tramp.o

GUEST_IMAGES := $(GUEST_NAMES:%=$(GUEST_OUT)/%.elf) \
        $(GUEST_OUT)/bootinfo.bzImage $(GUEST_OUT)/bootinfo-s0.bzImage
MKBZIMAGE := $(GUEST_OUT)/tools/mkbzimage

.PHONY: guests
guests: $(GUEST_IMAGES)

$(GUEST_OBJ)/%.o: guests/%.c
	@mkdir -p $(dir $@)
	@echo "  GUEST   $<"; $(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OBJ)/%.o: guests/%.S
	@mkdir -p $(dir $@)
	@echo "  GUEST   $<"; $(GUEST_CC) $(GUEST_ASFLAGS) -c -o $@ $<

# Link one guest: $(1) = output, $(2) = objects, $(3) = load address.
define GUEST_LINK
$(1): $(2) $(GUEST_COMMON_OBJS) guests/common/guest.ld
	@$$(GUEST_CC) $$(GUEST_LDFLAGS) -Wl,--defsym=GUEST_LOAD_ADDR=$(3) -o $$@ $$(filter %.o,$$^)
endef
$(foreach g,$(GUEST_NAMES),$(eval $(call GUEST_LINK,$(GUEST_OUT)/$(g).elf,$(GUEST_OBJ)/$(g).o $(GUEST_EXTRA_$(g)),$(GUEST_ELF_ADDR))))
$(eval $(call GUEST_LINK,$(GUEST_OUT)/bootinfo.bz.elf,$(GUEST_OBJ)/bootinfo.o,$(GUEST_BZ_ADDR)))

# Keep the objects (they are reached only through pattern rules).
GUEST_ALL_OBJS := $(GUEST_COMMON_OBJS) $(GUEST_NAMES:%=$(GUEST_OBJ)/%.o) $(GUEST_EXTRA_smp)
.SECONDARY: $(GUEST_ALL_OBJS)

$(GUEST_OUT)/bootinfo.bzImage: $(GUEST_OUT)/bootinfo.bz.elf $(MKBZIMAGE)
	$(MKBZIMAGE) --setup-sects 1 --cmdline-size 255 --initrd-max 0x37ffffff --relocatable 1 $< $@

$(GUEST_OUT)/bootinfo-s0.bzImage: $(GUEST_OUT)/bootinfo.bz.elf $(MKBZIMAGE)
	$(MKBZIMAGE) --setup-sects 0 --cmdline-size 2048 --initrd-max 0x7fffffff --relocatable 0 $< $@

$(MKBZIMAGE): guests/tools/mkbzimage.c
	@mkdir -p $(dir $@)
	@$(GUEST_CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $<
