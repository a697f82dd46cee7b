/* VM life cycle: create (memory, buses, backend, machine, vCPUs), run (threads, console, exit),
 * destroy. The PC machine itself is assembled in core/machine.c. */
#include "core/vm.h"
#include "core/exitcode.h"
#include "core/log.h"
#include "core/machine.h"
#include "core/memstat.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

int vm_exit_status(enum vm_exit_kind kind, int code)
{
	switch (kind) {
	case VM_EXIT_POWEROFF:
	case VM_EXIT_RESET:
		return VMON_EXIT_OK;
	case VM_EXIT_USER:
		return code ? 128 + code : VMON_EXIT_OK;
	case VM_EXIT_DEBUG:
		return ((code << 1) | 1) & 0xff;
	case VM_EXIT_GUEST_CRASH:
		return VMON_EXIT_GUEST_CRASH;
	case VM_EXIT_NONE:
	case VM_EXIT_VMM_ERROR:
	default:
		return VMON_EXIT_VMM_ERROR;
	}
}

void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, int code)
{
	int first = 0;
	pthread_mutex_lock(&vm->exit_lock);
	if (!atomic_load(&vm->exit_requested)) {
		vm->exit_kind = kind;
		vm->exit_code = code;
		atomic_store(&vm->exit_requested, 1);
		first = 1;
	}
	pthread_mutex_unlock(&vm->exit_lock);
	if (!first)
		return;
	uint64_t one = 1;
	ssize_t w = write(vm->exit_efd, &one, sizeof(one));
	(void)w;
	if (atomic_load(&vm->threads_started))
		for (unsigned i = 0; i < vm->ncpus; i++)
			vm->accel->vcpu_kick(&vm->vcpus[i]);
}

static void exit_sink_cb(void *ctx, enum vm_exit_kind kind, int code)
{
	vm_request_exit(ctx, kind, code);
}

struct exit_sink vm_exit_sink(struct vm *vm)
{
	return (struct exit_sink){exit_sink_cb, vm};
}

static void irq_cb(void *ctx, unsigned gsi, int level)
{
	struct vm *vm = ctx;
	vm->accel->set_irq(vm, gsi, level);
}

struct irq_line vm_irq_line(struct vm *vm, unsigned gsi)
{
	return (struct irq_line){irq_cb, vm, gsi};
}

/* Pick the backend; on failure print why. Returns NULL when none fits. */
static const struct accel_ops *vm_pick_accel(enum accel_kind kind)
{
	char why[256] = "";
	if (kind == ACCEL_AUTO) {
		if (accel_host_has_hw_virt() && accel_kvm_ops.probe(why, sizeof(why)) == 0)
			return &accel_kvm_ops;
		if (accel_emu_ops)
			return accel_emu_ops;
		fprintf(stderr,
			"vmon: error: --accel auto: the host CPU has no VMX/SVM (or /dev/kvm does "
			"not open%s%s) and the emu backend is not available in this build; use "
			"--accel kvm to run small guests on this host's /dev/kvm\n",
			why[0] ? ": " : "", why);
		return NULL;
	}
	if (kind == ACCEL_EMU) {
		if (accel_emu_ops)
			return accel_emu_ops;
		fprintf(stderr, "vmon: error: --accel emu: the emu backend is not available in "
				"this build\n");
		return NULL;
	}
	if (accel_kvm_ops.probe(why, sizeof(why))) {
		fprintf(stderr, "vmon: error: --accel kvm: %s\n", why);
		return NULL;
	}
	return &accel_kvm_ops;
}

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm;
	int ret;

	*out = NULL;
	const struct accel_ops *accel = vm_pick_accel(cfg->accel);
	if (!accel)
		return -ENODEV; /* the requested backend is not available */
	/* struct vm holds an x86_cpu_state, whose XSAVE area asks for 64-byte alignment. */
	vm = aligned_alloc(_Alignof(struct vm),
			   (sizeof(*vm) + _Alignof(struct vm) - 1) & ~(_Alignof(struct vm) - 1));
	if (!vm)
		return -ENOMEM;
	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->ncpus = cfg->ncpus;
	vm->accel = accel;
	vm->exit_efd = -1;
	pthread_mutex_init(&vm->exit_lock, NULL);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
	if (vm->exit_efd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = gmem_init_ram(&vm->mem, cfg->mem_size);
	if (ret) {
		fprintf(stderr, "vmon: error: cannot allocate %llu MiB of guest RAM: %s\n",
			(unsigned long long)(cfg->mem_size >> 20), strerror(-ret));
		goto fail;
	}
	if ((ret = bus_init(&vm->pio, BUS_PIO)) || (ret = bus_init(&vm->mmio, BUS_MMIO)))
		goto fail;
	ret = accel->vm_init(vm);
	if (ret) {
		fprintf(stderr, "vmon: error: %s backend: cannot create the VM: %s\n", accel->name,
			strerror(-ret));
		goto fail;
	}
	vm->accel_ready = 1;
	ret = machine_build(vm);
	if (ret)
		goto fail;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		ret = accel->vcpu_init(&vm->vcpus[i]);
		if (ret) {
			fprintf(stderr, "vmon: error: cannot create vCPU %u: %s\n", i,
				strerror(-ret));
			goto fail;
		}
	}
	ret = accel->vcpu_set_state(&vm->vcpus[0], &vm->boot_state);
	if (ret) {
		fprintf(stderr, "vmon: error: cannot set the boot vCPU's state: %s\n",
			strerror(-ret));
		goto fail;
	}
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return ret ? ret : -EINVAL;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	vcpu->run_result = vcpu->vm->accel->vcpu_run(vcpu);
	return NULL;
}

int vm_run(struct vm *vm)
{
	sigset_t sigs, old;
	int sfd;
	unsigned started = 0;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	if (machine_start_io(vm)) {
		vm_request_exit(vm, VM_EXIT_VMM_ERROR, 0);
		goto out;
	}
	for (; started < vm->ncpus; started++) {
		int err = pthread_create(&vm->vcpus[started].thread, NULL, vcpu_thread,
					 &vm->vcpus[started]);
		if (err) {
			log_err("cannot start vCPU thread %u: %s", started, strerror(err));
			vm_request_exit(vm, VM_EXIT_VMM_ERROR, 0);
			break;
		}
	}
	atomic_store(&vm->threads_started, 1);
	for (;;) {
		struct pollfd pfd[2] = {{.fd = vm->exit_efd, .events = POLLIN},
					{.fd = sfd, .events = POLLIN}};
		if (atomic_load(&vm->exit_requested))
			break;
		int r = poll(pfd, sfd >= 0 ? 2 : 1, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (sfd >= 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				vm_request_exit(vm, VM_EXIT_USER, (int)si.ssi_signo);
		}
	}
	for (unsigned i = 0; i < started; i++)
		vm->accel->vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < started; i++)
		pthread_join(vm->vcpus[i].thread, NULL);
	atomic_store(&vm->threads_started, 0);
out:
	machine_stop_io(vm);
	if (sfd >= 0)
		close(sfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	struct memstat ms;
	if (log_enabled(LOG_INFO) && memstat_read(&vm->mem, &ms) == 0)
		log_info("memory: rss %llu KiB (peak %llu KiB): guest RAM %llu KiB, vmon %llu KiB",
			 (unsigned long long)ms.rss_kib, (unsigned long long)ms.peak_rss_kib,
			 (unsigned long long)ms.guest_kib,
			 (unsigned long long)(ms.rss_kib - ms.guest_kib));
	if (vm->exit_kind == VM_EXIT_USER && vm->exit_code)
		fprintf(stderr, "vmon: terminating on signal %d\n", vm->exit_code);
	return vm_exit_status(vm->exit_kind, vm->exit_code);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].accel)
			vm->accel->vcpu_destroy(&vm->vcpus[i]);
	machine_destroy(vm);
	if (vm->accel_ready)
		vm->accel->vm_destroy(vm);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	gmem_destroy(&vm->mem);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	pthread_mutex_destroy(&vm->exit_lock);
	free(vm);
}
