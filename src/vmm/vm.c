#include "vmm/vm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/kernel_image.h"
#include "arch/x86/mptable.h"
#include "arch/x86/vcpu_x86.h"
#include "util/cmdline.h"
#include "util/err.h"
#include "util/log.h"

#define PIO_POST 0x80
#define PIO_PCI_CONFIG 0xcf8
#define PIO_PCI_CONFIG_LEN 8

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, const char *fmt, ...)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;
	va_list ap;

	if (!__atomic_compare_exchange_n(&vm->stop_reason, &expected, (int)reason, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	va_start(ap, fmt);
	vsnprintf(vm->stop_msg, sizeof(vm->stop_msg), fmt, ap);
	va_end(ap);
	if (write(vm->exit_efd, &one, sizeof(one)) < 0) {
		/* saturated: already signalled */
	}
}

/* ---- device glue ---- */

static void serial_out(void *ctx, uint8_t byte)
{
	struct vm *vm = ctx;

	if (__atomic_load_n(&vm->console_client, __ATOMIC_ACQUIRE) >= 0) {
		/* Never block the guest on an attached console: drop what it cannot take. */
		pthread_mutex_lock(&vm->console_lock);
		if (vm->console_client >= 0)
			(void)!send(vm->console_client, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		pthread_mutex_unlock(&vm->console_lock);
	}
	/* Buffered, never blocking: a stalled stdout must not stop this vCPU (console_out.h). */
	console_out_put(&vm->console_out, byte);
}

static void serial_drained(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t one = 1;

	if (write(vm->wake_efd, &one, sizeof(one)) < 0) {
		/* saturated: the main thread is awake anyway */
	}
}

static void i8042_reset(void *ctx)
{
	vm_request_stop(ctx, VM_STOP_RESET, "guest reset through the i8042");
}

static void acpi_poweroff(void *ctx)
{
	vm_request_stop(ctx, VM_STOP_POWEROFF, "guest powered off (ACPI S5)");
}

static int irq_line_open(struct vm *vm, struct irq_line *l, unsigned int gsi)
{
	l->gsi = gsi;
	l->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->fd < 0)
		return err_set(-errno, "eventfd: %s", strerror(errno));
	return kvm_irqfd(&vm->kvm, l->fd, gsi);
}

static int add_devices(struct vm *vm)
{
	int r;

	r = irq_line_open(vm, &vm->irq_serial, SERIAL_COM1_IRQ);
	if (r < 0)
		return r;
	r = irq_line_open(vm, &vm->irq_kbd, I8042_KBD_IRQ);
	if (r < 0)
		return r;
	serial_init(&vm->serial, &vm->irq_serial, serial_out, vm);
	vm->serial.rx_drained = serial_drained;
	vm->serial.rx_ctx = vm;
	i8042_init(&vm->i8042, &vm->irq_kbd, i8042_reset, vm);
	cmos_init(&vm->cmos, vm->mem.ram_size);
	acpi_pm_init(&vm->acpi_pm, ACPI_S5_SLP_TYP, acpi_poweroff, vm);

	const struct bus_range ranges[] = {
		{ .base = SERIAL_COM1_BASE, .len = SERIAL_PORTS, .name = "serial0",
		  .read = serial_pio_read, .write = serial_pio_write, .opaque = &vm->serial },
		{ .base = I8042_DATA_PORT, .len = 1, .name = "i8042-data",
		  .read = i8042_data_read, .write = i8042_data_write, .opaque = &vm->i8042 },
		{ .base = I8042_CMD_PORT, .len = 1, .name = "i8042-cmd",
		  .read = i8042_cmd_read, .write = i8042_cmd_write, .opaque = &vm->i8042 },
		{ .base = CMOS_PORT, .len = CMOS_PORTS, .name = "cmos",
		  .read = cmos_pio_read, .write = cmos_pio_write, .opaque = &vm->cmos },
		{ .base = ACPI_PM1_PORT, .len = ACPI_PM1_EVT_LEN + ACPI_PM1_CNT_LEN,
		  .name = "acpi-pm1", .read = acpi_pm_read, .write = acpi_pm_write,
		  .opaque = &vm->acpi_pm },
		/* POST diagnostics and io_delay: writes dropped, reads all ones. */
		{ .base = PIO_POST, .len = 1, .name = "post" },
		/* No PCI: config mechanism #1 reads as absent (all ones). */
		{ .base = PIO_PCI_CONFIG, .len = PIO_PCI_CONFIG_LEN, .name = "pci-config" },
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		r = bus_register(&vm->pio, &ranges[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- virtio-mmio devices ---- */

/* Windows in the MMIO gap and ISA-range GSIs the virtio devices get, in order. GSIs 0-4,
 * 8 and 9 are the timer, keyboard, cascade, COM2 and COM1, the RTC and the ACPI SCI. */
#define VIRTIO_MMIO_BASE 0xd0000000ULL
static const unsigned int virtio_gsis[] = { 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18,
					    19, 20, 21, 22, 23 };
#define VIRTIO_MAX_DEVICES (sizeof(virtio_gsis) / sizeof(virtio_gsis[0]))

/* Registers one transport: MMIO window, queue ioeventfds, interrupt irqfd, its entry
 * for the DSDT and the virtio_mmio.device= parameter (used only with acpi=off, for
 * kernels built without ACPI: see vm_create). */
static int attach_virtio(struct vm *vm, struct virtio_mmio *m, const struct virtio_device_ops *ops,
			 void *dev, char *params, size_t params_size)
{
	uint64_t base = VIRTIO_MMIO_BASE + (uint64_t)vm->nvirtio * VIRTIO_MMIO_SIZE;
	unsigned int gsi;
	size_t used = strlen(params);
	int r;

	if (vm->nvirtio == VIRTIO_MAX_DEVICES)
		return err_set(-EINVAL, "too many virtio devices: at most %zu", VIRTIO_MAX_DEVICES);
	gsi = virtio_gsis[vm->nvirtio];
	r = virtio_mmio_init(m, ops, dev, &vm->mem, base, gsi);
	if (r < 0)
		return r;
	vm->virtio_windows[vm->nvirtio] = (struct acpi_virtio){
		.base = base, .size = VIRTIO_MMIO_SIZE, .gsi = gsi,
	};
	vm->nvirtio++;
	const struct bus_range range = {
		.base = base, .len = VIRTIO_MMIO_SIZE, .name = ops->name,
		.read = virtio_mmio_read, .write = virtio_mmio_write, .opaque = m,
	};
	r = bus_register(&vm->mmio, &range);
	if (r < 0)
		return r;
	for (unsigned int q = 0; q < ops->num_queues; q++) {
		r = kvm_ioeventfd(&vm->kvm, m->notify_fd[q], base + 0x50, 4, q);
		if (r < 0)
			return r;
	}
	r = irq_line_open(vm, &m->irq, gsi);
	if (r < 0)
		return r;
	snprintf(params + used, params_size - used, "%svirtio_mmio.device=4K@0x%llx:%u",
		 used ? " " : "", (unsigned long long)base, gsi);
	return 0;
}

static int add_virtio_devices(struct vm *vm, char *params, size_t params_size)
{
	const struct vm_config *cfg = &vm->cfg;
	int r;

	if (cfg->ndisks) {
		vm->blks = calloc(cfg->ndisks, sizeof(*vm->blks));
		if (!vm->blks)
			return err_set(-ENOMEM, "out of memory");
		for (unsigned int i = 0; i < cfg->ndisks; i++)
			vm->blks[i].fd = -1;
	}
	if (cfg->nnets) {
		vm->nets = calloc(cfg->nnets, sizeof(*vm->nets));
		if (!vm->nets)
			return err_set(-ENOMEM, "out of memory");
		for (unsigned int i = 0; i < cfg->nnets; i++)
			vm->nets[i].tap_fd = -1;
	}
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		struct virtio_blk *b = &vm->blks[i];

		r = virtio_blk_open(b, cfg->disks[i].path, cfg->disks[i].read_only, i);
		vm->nblks++;
		if (r < 0)
			return r;
		r = attach_virtio(vm, &b->mmio, &virtio_blk_ops, b, params, params_size);
		if (r < 0)
			return r;
		b->mmio.extra_features = b->features;
	}
	for (unsigned int i = 0; i < cfg->nnets; i++) {
		struct virtio_net *n = &vm->nets[i];

		r = virtio_net_open(n, cfg->nets[i].tap, cfg->nets[i].has_mac ? cfg->nets[i].mac : NULL,
				    i);
		vm->nnets++;
		if (r < 0)
			return r;
		r = attach_virtio(vm, &n->mmio, &virtio_net_ops, n, params, params_size);
		if (r < 0)
			return r;
	}
	if (cfg->rng) {
		vm->rng = calloc(1, sizeof(*vm->rng));
		if (!vm->rng)
			return err_set(-ENOMEM, "out of memory");
		r = attach_virtio(vm, &vm->rng->mmio, &virtio_rng_ops, vm->rng, params, params_size);
		if (r < 0)
			return r;
	}
	/* virtio-vsock: after the other virtio devices. */
	if (cfg->vsock.uds_path) {
		vm->vsock = calloc(1, sizeof(*vm->vsock));
		if (!vm->vsock)
			return err_set(-ENOMEM, "out of memory");
		r = virtio_vsock_open(vm->vsock, cfg->vsock.cid, cfg->vsock.uds_path);
		if (r < 0)
			return r;
		r = attach_virtio(vm, &vm->vsock->mmio, &virtio_vsock_ops, vm->vsock, params,
				  params_size);
		if (r < 0)
			return r;
	}
	return 0;
}

static void close_virtio_mmio(struct virtio_mmio *m)
{
	if (!m->ops)
		return;  /* never initialised */
	virtio_mmio_destroy(m);
	if (m->irq.fd >= 0)
		close(m->irq.fd);
	m->irq.fd = -1;
}

static void remove_virtio_devices(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nblks; i++) {
		close_virtio_mmio(&vm->blks[i].mmio);
		virtio_blk_close(&vm->blks[i]);
	}
	for (unsigned int i = 0; i < vm->nnets; i++) {
		close_virtio_mmio(&vm->nets[i].mmio);
		virtio_net_close(&vm->nets[i]);
	}
	if (vm->rng) {
		close_virtio_mmio(&vm->rng->mmio);
		worker_stop(&vm->rng->worker);
	}
	if (vm->vsock) {
		close_virtio_mmio(&vm->vsock->mmio);
		virtio_vsock_close(vm->vsock);
		free(vm->vsock);
		vm->vsock = NULL;
	}
	free(vm->blks);
	free(vm->nets);
	free(vm->rng);
	vm->blks = NULL;
	vm->nets = NULL;
	vm->rng = NULL;
	vm->nblks = vm->nnets = 0;
}

/* ---- creation ---- */

static int create_vcpus(struct vm *vm)
{
	vm->vcpus = calloc(vm->nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(-ENOMEM, "out of memory");
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
		v->fd = -1;
		v->run = MAP_FAILED;
	}
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int r;

		v->fd = ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0)
			return err_set(-errno, "cannot create vCPU %u: %s", i, strerror(errno));
		v->run = mmap(NULL, (size_t)vm->kvm.vcpu_mmap_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			return err_set(-errno, "cannot map vCPU %u's run area: %s", i,
				       strerror(errno));
		r = arch_vcpu_setup(&vm->kvm, v->fd, i, vm->nvcpus, vm->entry);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_guest(struct vm *vm)
{
	struct image_src kernel, initrd;
	struct kernel_image k;
	struct boot_layout bl;
	int r;

	r = image_src_open_file(&kernel, vm->cfg.kernel);
	if (r < 0)
		return r;
	r = kernel_parse(&kernel, &k);
	if (r == 0)
		r = kernel_load(&vm->mem, &kernel, &k);
	image_src_close_file(&kernel);
	if (r < 0)
		return r;
	vm->entry = k.entry;

	if (vm->cfg.initrd) {
		r = image_src_open_file(&initrd, vm->cfg.initrd);
		if (r < 0)
			return r;
		if (initrd.size == 0) {
			image_src_close_file(&initrd);
			return err_set(-EINVAL, "%s: the initrd is empty", vm->cfg.initrd);
		}
	}
	r = boot_setup(&vm->mem, &k, vm->cmdline, vm->cfg.initrd ? &initrd : NULL,
		       vm->nvcpus, &bl);
	if (vm->cfg.initrd)
		image_src_close_file(&initrd);
	if (r < 0)
		return r;
	const struct acpi_config acpi = {
		.ncpus = vm->nvcpus, .virtio = vm->virtio_windows, .nvirtio = vm->nvirtio,
	};
	r = acpi_write(&vm->mem, &acpi);
	if (r < 0)
		return r;
	log_info("kernel %s (%s) entry 0x%llx, initrd at 0x%llx (%llu bytes)", vm->cfg.kernel,
		 k.format == KERNEL_ELF ? "ELF" : "bzImage", (unsigned long long)k.entry,
		 (unsigned long long)bl.initrd_gpa, (unsigned long long)bl.initrd_size);
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->nvcpus = cfg->vcpus;
	vm->kvm.fd = vm->kvm.vm_fd = -1;
	vm->exit_efd = vm->wake_efd = -1;
	vm->irq_serial.fd = vm->irq_kbd.fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	pthread_mutex_init(&vm->park_lock, NULL);
	pthread_mutex_init(&vm->console_lock, NULL);
	vm->console_client = -1;
	console_out_init(&vm->console_out, cfg->console_out);
	pthread_cond_init(&vm->park_cond, NULL);

	r = kvm_open(&vm->kvm, cfg->kvm_path);
	if (r < 0)
		goto fail;
	if (cfg->vcpus == 0 || cfg->vcpus > vm->kvm.max_vcpus || cfg->vcpus > MPTABLE_MAX_CPUS) {
		unsigned int max = vm->kvm.max_vcpus < MPTABLE_MAX_CPUS ? vm->kvm.max_vcpus
									 : MPTABLE_MAX_CPUS;
		r = err_set(-EINVAL, "--vcpus %u: must be between 1 and %u on this host", cfg->vcpus,
			    max);
		goto fail;
	}
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0 || vm->wake_efd < 0) {
		r = err_set(-errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	r = guest_mem_init(&vm->mem, cfg->mem_mib << 20);
	if (r < 0)
		goto fail;
	r = kvm_create_vm(&vm->kvm);
	if (r < 0)
		goto fail;
	for (unsigned int i = 0; i < vm->mem.nregions; i++) {
		const struct guest_region *g = &vm->mem.regions[i];

		r = kvm_set_memslot(&vm->kvm, i, g->gpa, g->size, g->host);
		if (r < 0)
			goto fail;
	}
	{
		char params[VIRTIO_MAX_DEVICES * 48] = "";

		r = add_virtio_devices(vm, params, sizeof(params));
		if (r < 0)
			goto fail;
		/* The DSDT describes the devices. A kernel told acpi=off (or built without
		 * ACPI, where the user passes acpi=off to say so) learns them from the command
		 * line instead; giving both to an ACPI kernel would probe each device twice. */
		vm->cmdline = cmdline_add(cfg->cmdline,
					  cmdline_has_param(cfg->cmdline, "acpi=off") ? params : "");
		if (!vm->cmdline) {
			r = err_set(-ENOMEM, "out of memory");
			goto fail;
		}
	}
	r = load_guest(vm);
	if (r < 0)
		goto fail;
	r = add_devices(vm);
	if (r < 0)
		goto fail;
	r = create_vcpus(vm);
	if (r < 0)
		goto fail;
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

void vm_destroy(struct vm *vm)
{
	vcpu_join_all(vm);
	/* After the vCPUs (nothing appends any more): flush the guest's last words. */
	console_out_stop(&vm->console_out);
	remove_virtio_devices(vm);
	free(vm->cmdline);
	vm->cmdline = NULL;
	if (vm->vcpus) {
		for (unsigned int i = 0; i < vm->nvcpus; i++) {
			struct vcpu *v = &vm->vcpus[i];

			if (v->run != MAP_FAILED && v->run)
				munmap(v->run, (size_t)vm->kvm.vcpu_mmap_size);
			if (v->fd >= 0)
				close(v->fd);
		}
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	if (vm->irq_serial.fd >= 0)
		close(vm->irq_serial.fd);
	if (vm->irq_kbd.fd >= 0)
		close(vm->irq_kbd.fd);
	vm->irq_serial.fd = vm->irq_kbd.fd = -1;
	kvm_close(&vm->kvm);
	guest_mem_free(&vm->mem);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	if (vm->wake_efd >= 0)
		close(vm->wake_efd);
	vm->exit_efd = vm->wake_efd = -1;
}
