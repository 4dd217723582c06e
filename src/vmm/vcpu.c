/* vCPU threads: one per vCPU, each looping on KVM_RUN and dispatching exits through a
 * table indexed by exit reason. The main thread reaches them with a kick: a flag, then
 * immediate_exit, then SIGUSR1, so a vCPU leaves KVM_RUN whether it is inside it, about
 * to enter it, or halted. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/vcpu_x86.h"
#include "util/err.h"
#include "util/log.h"
#include "vmm/vm.h"

#define KICK_SIGNAL SIGUSR1
#define VCPU_STACK_SIZE (256 * 1024)

/* Returns 0 to keep running, 1 to leave the loop. */
typedef int (*exit_handler_fn)(struct vcpu *v);

static int exit_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t span = (uint64_t)run->io.size * run->io.count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (run->io.data_offset + span > (uint64_t)v->vm->kvm.vcpu_mmap_size)
		return 0;
	__atomic_add_fetch(run->io.direction == KVM_EXIT_IO_OUT ? &v->exit_io_out : &v->exit_io_in, 1,
			   __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&v->vm->pio, run->io.port, data, run->io.size);
		else
			bus_read(&v->vm->pio, run->io.port, data, run->io.size);
	}
	return 0;
}

static int exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len <= 8 ? run->mmio.len : 8;

	__atomic_add_fetch(run->mmio.is_write ? &v->exit_mmio_write : &v->exit_mmio_read, 1,
			   __ATOMIC_RELAXED);
	if (run->mmio.is_write)
		bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	return 0;
}

static unsigned long long triple_fault_rip(struct vcpu *v)
{
	struct kvm_regs regs;

	return ioctl(v->fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : 0;
}

static int exit_shutdown(struct vcpu *v)
{
	/* A triple fault: on a PC that resets the machine. Ember treats it as a reboot, but
	 * says so: Linux reboots through the i8042, so a triple fault is worth a look. */
	log_warn("vCPU %u: triple fault: the guest reset itself (RIP 0x%llx); treating it as a "
		 "reboot", v->id, (unsigned long long)triple_fault_rip(v));
	vm_request_stop(v->vm, VM_STOP_RESET, "vCPU %u: triple fault (guest reset)", v->id);
	return 1;
}

static int exit_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(v->vm, VM_STOP_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(v->vm, VM_STOP_RESET, "guest reset");
		break;
	default:
		vm_request_stop(v->vm, VM_STOP_ERROR, "guest crashed (system event %u)",
				v->run->system_event.type);
		break;
	}
	return 1;
}

static int exit_hlt(struct vcpu *v)
{
	/* Only without an in-kernel LAPIC; Ember always has one. Treat like a halt probe. */
	(void)v;
	return 0;
}

static int exit_internal_error(struct vcpu *v)
{
	vm_request_stop(v->vm, VM_STOP_ERROR, "vCPU %u: KVM internal error (suberror %u) at "
			"the guest's current instruction: the guest did something KVM cannot "
			"emulate", v->id, v->run->internal.suberror);
	return 1;
}

static int exit_fail_entry(struct vcpu *v)
{
	vm_request_stop(v->vm, VM_STOP_ERROR, "vCPU %u: KVM could not enter the guest "
			"(hardware reason 0x%llx)", v->id,
			(unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
	return 1;
}

static int exit_continue(struct vcpu *v)
{
	(void)v;
	return 0;
}

static const exit_handler_fn exit_handlers[] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_HLT] = exit_hlt,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
	[KVM_EXIT_INTR] = exit_continue,
	[KVM_EXIT_IRQ_WINDOW_OPEN] = exit_continue,
};

static void answer_probe(struct vcpu *v)
{
	struct vm *vm = v->vm;
	unsigned int gen = __atomic_load_n(&vm->probe_gen, __ATOMIC_ACQUIRE);

	if (gen == v->probe_seen)
		return;
	v->probe_seen = gen;
	if (arch_vcpu_halted_for_good(v->fd))
		__atomic_add_fetch(&vm->probe_halted, 1, __ATOMIC_ACQ_REL);
	if (__atomic_add_fetch(&vm->probe_acks, 1, __ATOMIC_ACQ_REL) == vm->nvcpus) {
		uint64_t one = 1;

		/* Last to answer: wake the main thread to judge the round. */
		if (write(vm->wake_efd, &one, sizeof(one)) < 0) {
			/* counter saturated: the main thread is awake anyway */
		}
	}
}

/* Parks this vCPU while a pause is requested. */
static void park_if_paused(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (!__atomic_load_n(&vm->pause_requested, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->park_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->park_cond);
	while (vm->pause_requested && !__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&vm->park_cond, &vm->park_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->park_lock);
}

void vm_pause(struct vm *vm)
{
	unsigned int started = 0;

	for (unsigned int i = 0; vm->vcpus && i < vm->nvcpus; i++)
		started += vm->vcpus[i].thread_started ? 1u : 0u;
	pthread_mutex_lock(&vm->park_lock);
	__atomic_store_n(&vm->pause_requested, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->park_lock);
	vcpu_kick_all(vm);
	pthread_mutex_lock(&vm->park_lock);
	/* A vCPU that leaves for a stop (the guest reset itself between the request and its
	 * park) never parks: count it too, or this wait would hold the main thread, and with
	 * it SIGTERM, for ever. */
	while (vm->parked + vm->vcpus_left < started &&
	       !__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&vm->park_cond, &vm->park_lock);
	pthread_mutex_unlock(&vm->park_lock);
}

void vcpu_left(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	vm->vcpus_left++;
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	__atomic_store_n(&vm->pause_requested, 0, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (;;) {
		/* Once a stop is requested (by any vCPU's exit or the main thread) no vCPU
		 * runs guest code again: a guest that asked for a reset must not go on. */
		if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_RUNNING)
			break;
		park_if_paused(v);
		if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
			break;
		answer_probe(v);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int e = errno;

			if (e == EINTR) {
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
				continue;
			}
			if (e == EAGAIN)
				continue;  /* an AP received INIT/SIPI */
			vm_request_stop(vm, VM_STOP_ERROR, "vCPU %u: KVM_RUN failed: %s", v->id,
					strerror(e));
			break;
		}
		v->exits++;
		uint32_t reason = v->run->exit_reason;
		exit_handler_fn h = reason < sizeof(exit_handlers) / sizeof(exit_handlers[0])
				    ? exit_handlers[reason] : NULL;
		if (!h) {
			vm_request_stop(vm, VM_STOP_ERROR, "vCPU %u: unexpected KVM exit reason %u",
					v->id, reason);
			break;
		}
		if (h(v))
			break;
	}
	vcpu_left(vm);
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;  /* only interrupts KVM_RUN */
}

int vcpu_start_all(struct vm *vm)
{
	struct sigaction sa;
	pthread_attr_t attr;
	int r = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;  /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
		return err_set(-errno, "sigaction: %s", strerror(errno));

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		char name[16];

		r = pthread_create(&v->thread, &attr, vcpu_thread, v);
		if (r) {
			r = err_set(-r, "cannot start the thread of vCPU %u: %s", i, strerror(r));
			break;
		}
		v->thread_started = 1;
		if (vm->cfg.fc_thread_names)
			snprintf(name, sizeof(name), "fc_vcpu %u", i % 1000);  /* at most 254 */
		else
			snprintf(name, sizeof(name), "vcpu%u", i);
		pthread_setname_np(v->thread, name);
		if (vm->cfg.cpu_masks && vm->cfg.cpu_masks[i]) {
			cpu_set_t set;

			CPU_ZERO(&set);
			for (unsigned int c = 0; c < 64; c++)
				if (vm->cfg.cpu_masks[i] >> c & 1)
					CPU_SET(c, &set);
			r = pthread_setaffinity_np(v->thread, sizeof(set), &set);
			if (r) {
				r = err_set(-r, "vCPU %u: cannot pin to host CPU mask 0x%llx: %s (does "
					    "this host have those CPUs?)", i,
					    (unsigned long long)vm->cfg.cpu_masks[i], strerror(r));
				break;
			}
		}
	}
	pthread_attr_destroy(&attr);
	return r;
}

void vcpu_kick_all(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		pthread_kill(v->thread, KICK_SIGNAL);
	}
}

void vcpu_join_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	__atomic_store_n(&vm->stopping, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->park_cond);  /* wake parked vCPUs so they can leave */
	pthread_mutex_unlock(&vm->park_lock);
	if (!vm->vcpus)
		return;
	vcpu_kick_all(vm);
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = 0;
		}
	}
}
