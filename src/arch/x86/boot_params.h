/* The Linux x86 boot protocol's "zero page" (struct boot_params) and setup header, as far
 * as Ember fills or reads them. Offsets are from Documentation/arch/x86/zero-page.rst and
 * boot.rst; the static asserts pin them. */
#ifndef EMBER_ARCH_X86_BOOT_PARAMS_H
#define EMBER_ARCH_X86_BOOT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define E820_MAX_ENTRIES_ZEROPAGE 128
#define E820_RAM      1
#define E820_RESERVED 2

#define SETUP_HDR_MAGIC 0x53726448u  /* "HdrS" */
#define BOOT_FLAG_MAGIC 0xaa55
#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define LOADER_TYPE_UNDEFINED 0xff

struct __attribute__((packed)) e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct __attribute__((packed)) setup_header {
	uint8_t setup_sects;        /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;         /* 0x1fe */
	uint16_t jump;              /* 0x200 */
	uint32_t header;            /* 0x202 */
	uint16_t version;           /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;     /* 0x210 */
	uint8_t loadflags;          /* 0x211 */
	uint16_t setup_move_size;
	uint32_t code32_start;      /* 0x214 */
	uint32_t ramdisk_image;     /* 0x218 */
	uint32_t ramdisk_size;      /* 0x21c */
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;      /* 0x228 */
	uint32_t initrd_addr_max;   /* 0x22c */
	uint32_t kernel_alignment;  /* 0x230 */
	uint8_t relocatable_kernel; /* 0x234 */
	uint8_t min_alignment;
	uint16_t xloadflags;        /* 0x236 */
	uint32_t cmdline_size;      /* 0x238 */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;    /* 0x248 */
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;      /* 0x258 */
	uint32_t init_size;         /* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
};

struct __attribute__((packed)) boot_params {
	uint8_t screen_info[0x40];          /* 0x000 */
	uint8_t apm_bios_info[0x14];        /* 0x040 */
	uint8_t pad0[4];
	uint64_t tboot_addr;                /* 0x058 */
	uint8_t ist_info[0x10];             /* 0x060 */
	uint64_t acpi_rsdp_addr;            /* 0x070 */
	uint8_t pad1[8];
	uint8_t hd0_info[16];               /* 0x080 */
	uint8_t hd1_info[16];
	uint8_t sys_desc_table[16];         /* 0x0a0 */
	uint8_t olpc_ofw_header[16];        /* 0x0b0 */
	uint32_t ext_ramdisk_image;         /* 0x0c0 */
	uint32_t ext_ramdisk_size;          /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;          /* 0x0c8 */
	uint8_t pad2[0x13c - 0xcc];
	uint32_t cc_blob_address;           /* 0x13c */
	uint8_t edid_info[0x80];            /* 0x140 */
	uint8_t efi_info[0x20];             /* 0x1c0 */
	uint32_t alt_mem_k;                 /* 0x1e0 */
	uint32_t scratch;
	uint8_t e820_entries;               /* 0x1e8 */
	uint8_t eddbuf_entries;
	uint8_t edd_mbr_sig_buf_entries;
	uint8_t kbd_status;
	uint8_t secure_boot;
	uint8_t pad3[2];
	uint8_t sentinel;                   /* 0x1ef */
	uint8_t pad4;
	struct setup_header hdr;            /* 0x1f1 */
	uint8_t pad5[0x290 - 0x1f1 - sizeof(struct setup_header)];
	uint32_t edd_mbr_sig_buffer[16];    /* 0x290 */
	struct e820_entry e820_table[E820_MAX_ENTRIES_ZEROPAGE]; /* 0x2d0 */
	uint8_t pad6[0x1000 - 0x2d0 - E820_MAX_ENTRIES_ZEROPAGE * sizeof(struct e820_entry)];
};

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "hdr");
_Static_assert(offsetof(struct boot_params, hdr.header) == 0x202, "header");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, hdr.xloadflags) == 0x236, "xloadflags");
_Static_assert(offsetof(struct boot_params, hdr.pref_address) == 0x258, "pref_address");
_Static_assert(offsetof(struct boot_params, hdr.kernel_info_offset) == 0x268, "kernel_info_offset");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct boot_params) == 0x1000, "boot_params is one page");

/* Offset of the setup header inside a bzImage file and inside the zero page. */
#define SETUP_HDR_OFFSET 0x1f1

#endif
