/* kvm backend, vCPU level: creation, the run loop that turns kvm_run exits into bus calls, and
 * kicking a running vCPU out of KVM_RUN. */
#include "accel/kvm/kvm_int.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KVM_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig;
}

int kvm_vcpu_init(struct vcpu *vcpu)
{
	struct kvm_vm *k = kvm_of(vcpu->vm);
	struct kvm_vcpu_data *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->id);
	if (d->fd < 0) {
		ret = -errno;
		log_err("kvm: KVM_CREATE_VCPU %u: %s", vcpu->id, strerror(-ret));
		free(d);
		return ret;
	}
	d->run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
	if (d->run == MAP_FAILED) {
		ret = -errno;
		close(d->fd);
		free(d);
		return ret;
	}
	vcpu->accel = d;
	ret = kvm_vcpu_setup_cpu(vcpu);
	if (ret) {
		kvm_vcpu_destroy(vcpu);
		return ret;
	}
	/* The kick signal interrupts KVM_RUN; its handler does nothing. */
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(KVM_KICK_SIGNAL, &sa, NULL);
	return 0;
}

void kvm_vcpu_destroy(struct vcpu *vcpu)
{
	struct kvm_vcpu_data *d = vcpu->accel;
	if (!d)
		return;
	munmap(d->run, (size_t)kvm_of(vcpu->vm)->run_size);
	close(d->fd);
	free(d);
	vcpu->accel = NULL;
}

void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu_data *d = vcpu->accel;
	if (!d)
		return;
	__atomic_store_n(&d->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&d->running))
		pthread_kill(vcpu->thread, KVM_KICK_SIGNAL);
}

static void handle_io(struct vm *vm, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write_bytes(&vm->pio, run->io.port, data, run->io.size);
		else
			bus_read_bytes(&vm->pio, run->io.port, data, run->io.size);
	}
}

static void handle_mmio(struct vm *vm, struct kvm_run *run)
{
	unsigned len = run->mmio.len;
	if (len > 8)
		len = 8;
	if (run->mmio.is_write)
		bus_write_bytes(&vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read_bytes(&vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

static void report_internal_error(struct vcpu *vcpu, struct kvm_run *run)
{
	struct x86_cpu_state st;
	log_err("kvm: vCPU %u internal error, suberror %u", vcpu->id, run->internal.suberror);
	if (kvm_state_get(vcpu, &st) == 0)
		log_err("kvm: vCPU %u rip 0x%llx cs 0x%x cr0 0x%llx efer 0x%llx", vcpu->id,
			(unsigned long long)st.rip, st.seg[X86_CS].selector,
			(unsigned long long)st.cr0, (unsigned long long)st.efer);
}

/* Handle one exit. Returns 0 to keep running, 1 when the VM is stopping, -errno on failure. */
static int handle_exit(struct vcpu *vcpu, struct kvm_run *run)
{
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vm, run);
		return 0;
	case KVM_EXIT_MMIO:
		handle_mmio(vm, run);
		return 0;
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; treat as an idle stop. */
		vm_request_exit(vm, VM_EXIT_GUEST_CRASH, 0);
		return 1;
	case KVM_EXIT_SHUTDOWN:
		log_info("kvm: vCPU %u triple fault: resetting (exit)", vcpu->id);
		vm_request_exit(vm, VM_EXIT_RESET, 0);
		return 1;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(vm, VM_EXIT_POWEROFF, 0);
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(vm, VM_EXIT_RESET, 0);
			break;
		default:
			log_err("kvm: vCPU %u system event %u", vcpu->id, run->system_event.type);
			vm_request_exit(vm, VM_EXIT_GUEST_CRASH, 0);
		}
		return 1;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("kvm: vCPU %u entry failed, hardware reason 0x%llx", vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vm_request_exit(vm, VM_EXIT_GUEST_CRASH, 0);
		return 1;
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(vcpu, run);
		vm_request_exit(vm, VM_EXIT_GUEST_CRASH, 0);
		return 1;
	default:
		log_err("kvm: vCPU %u unhandled exit reason %u", vcpu->id, run->exit_reason);
		vm_request_exit(vm, VM_EXIT_VMM_ERROR, 0);
		return -ENOTSUP;
	}
}

int kvm_vcpu_run(struct vcpu *vcpu)
{
	struct kvm_vcpu_data *d = vcpu->accel;
	struct vm *vm = vcpu->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, KVM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	atomic_store(&d->running, 1);
	for (;;) {
		if (atomic_load(&vm->exit_requested))
			break;
		if (ioctl(d->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&d->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			int err = errno;
			log_err("kvm: KVM_RUN on vCPU %u: %s", vcpu->id, strerror(err));
			vm_request_exit(vm, VM_EXIT_VMM_ERROR, 0);
			atomic_store(&d->running, 0);
			return -err;
		}
		int r = handle_exit(vcpu, d->run);
		if (r < 0) {
			atomic_store(&d->running, 0);
			return r;
		}
		if (r > 0)
			break;
	}
	atomic_store(&d->running, 0);
	return 0;
}
