/* vm_pause against a vCPU that leaves for a stop instead of parking (the guest reset or
 * powered off between the pause request and its park). The pause used to wait for it to
 * park for ever, on the main thread, so Ember ignored SIGTERM until SIGKILL. A fake vCPU
 * thread plays the vCPU: it waits for the pause request, records a guest reset and leaves
 * as vcpu_thread does. In a child with an alarm: a hang fails the test. */
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"
#include "vmm/vm.h"

static void *fake_vcpu_resets_instead_of_parking(void *arg)
{
	struct vm *vm = arg;

	while (!__atomic_load_n(&vm->pause_requested, __ATOMIC_ACQUIRE))
		usleep(1000);
	vm_request_stop(vm, VM_STOP_RESET, "guest reset (test)");
	vcpu_left(vm);
	return NULL;
}

static void ignore_kick(int sig)
{
	(void)sig;
}

static int pause_while_the_guest_resets(void *unused)
{
	struct sigaction sa = { .sa_handler = ignore_kick };
	struct vm *vm = calloc(1, sizeof(*vm));
	struct kvm_run *run = calloc(1, sizeof(*run));

	(void)unused;
	if (!vm || !run || sigaction(SIGUSR1, &sa, NULL) < 0)
		return 10;
	pthread_mutex_init(&vm->park_lock, NULL);
	pthread_cond_init(&vm->park_cond, NULL);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->nvcpus = 1;
	vm->vcpus = calloc(1, sizeof(*vm->vcpus));
	if (vm->exit_efd < 0 || !vm->vcpus)
		return 11;
	vm->vcpus[0].vm = vm;
	vm->vcpus[0].run = run;
	if (pthread_create(&vm->vcpus[0].thread, NULL, fake_vcpu_resets_instead_of_parking, vm))
		return 12;
	vm->vcpus[0].thread_started = 1;
	vm_pause(vm);  /* must return: the only vCPU left for the reset */
	pthread_join(vm->vcpus[0].thread, NULL);
	if (__atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_STOP_RESET)
		return 13;
	return 0;
}

TEST(pause_returns_when_a_vcpu_leaves_for_a_stop)
{
	CHECK_EQ_INT(harness_in_child(pause_while_the_guest_resets, NULL, 5), 0);
}
