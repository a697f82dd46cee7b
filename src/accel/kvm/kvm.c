/* kvm backend, VM level: /dev/kvm, the VM, memory slots, in-kernel irqchip and PIT, interrupt
 * routing. */
#include "accel/kvm/kvm_int.h"
#include "arch/x86/layout.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int kvm_probe(char *why, size_t why_len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		snprintf(why, why_len, "cannot open /dev/kvm: %s", strerror(err));
		return -err;
	}
	int ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (ver != KVM_API_VERSION) {
		snprintf(why, why_len, "/dev/kvm API version %d, expected %d", ver,
			 KVM_API_VERSION);
		return -ENOTSUP;
	}
	return 0;
}

static int kvm_check_caps(struct kvm_vm *k)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
	    {KVM_CAP_IRQCHIP, "IRQCHIP"},	  {KVM_CAP_PIT2, "PIT2"},
	    {KVM_CAP_USER_MEMORY, "USER_MEMORY"}, {KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR"},
	    {KVM_CAP_EXT_CPUID, "EXT_CPUID"},	  {KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
	    {KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING"}, {KVM_CAP_MP_STATE, "MP_STATE"},
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (ioctl(k->vm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			log_err("kvm: host KVM lacks KVM_CAP_%s", need[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int kvm_load_supported_cpuid(struct kvm_vm *k)
{
	size_t sz = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int err = errno;
		free(c);
		log_err("kvm: KVM_GET_SUPPORTED_CPUID: %s", strerror(err));
		return -err;
	}
	k->supported.nr = c->nent;
	for (unsigned i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *s = &c->entries[i];
		k->supported.e[i] = (struct cpuid_entry){
		    s->function, s->index, s->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		    s->eax,	 s->ebx,   s->ecx,
		    s->edx};
	}
	free(c);
	return 0;
}

static int kvm_load_msr_list(struct kvm_vm *k)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		int err = errno;
		free(l);
		return -err;
	}
	k->msr_index_list = malloc(l->nmsrs * sizeof(uint32_t) + 1);
	if (!k->msr_index_list) {
		free(l);
		return -ENOMEM;
	}
	memcpy(k->msr_index_list, l->indices, l->nmsrs * sizeof(uint32_t));
	k->nr_msr_index = l->nmsrs;
	free(l);
	return 0;
}

static int kvm_map_memory(struct kvm_vm *k, struct gmem *gm)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *g = &gm->regions[i];
		struct kvm_userspace_memory_region mr = {
		    .slot = i,
		    .guest_phys_addr = g->gpa,
		    .memory_size = g->size,
		    .userspace_addr = (uintptr_t)g->hva,
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
			int err = errno;
			log_err("kvm: cannot map guest RAM at 0x%llx (%llu MiB): %s",
				(unsigned long long)g->gpa, (unsigned long long)(g->size >> 20),
				strerror(err));
			return -err;
		}
	}
	k->nr_slots = gm->nr_regions;
	return 0;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *k = kvm_of(vm);
	if (!k)
		return;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	pthread_mutex_destroy(&k->route_lock);
	free(k->msr_index_list);
	free(k);
	vm->accel_data = NULL;
}

static int kvm_vm_init(struct vm *vm)
{
	struct kvm_vm *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->route_lock, NULL);
	k->vm_fd = -1;
	vm->accel_data = k;
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		ret = -errno;
		log_err("kvm: cannot open /dev/kvm: %s", strerror(-ret));
		goto fail;
	}
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		ret = -errno;
		log_err("kvm: KVM_CREATE_VM: %s", strerror(-ret));
		goto fail;
	}
	k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0) {
		ret = -EINVAL;
		goto fail;
	}
	ret = kvm_check_caps(k);
	if (ret)
		goto fail;
	/* Intel without unrestricted guest needs these three pages below 4 GiB; the addresses are
	 * in the hole, clear of every device. */
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0) {
		ret = -errno;
		goto fail;
	}
	uint64_t idmap = 0xfffbc000ull;
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		log_debug("kvm: KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = -errno;
		log_err("kvm: KVM_CREATE_IRQCHIP: %s", strerror(-ret));
		goto fail;
	}
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		ret = -errno;
		log_err("kvm: KVM_CREATE_PIT2: %s", strerror(-ret));
		goto fail;
	}
	ret = kvm_routing_commit(k);
	if (ret) {
		log_err("kvm: KVM_SET_GSI_ROUTING: %s", strerror(-ret));
		goto fail;
	}
	ret = kvm_load_supported_cpuid(k);
	if (ret)
		goto fail;
	ret = kvm_load_msr_list(k);
	if (ret)
		goto fail;
	ret = kvm_map_memory(k, &vm->mem);
	if (ret)
		goto fail;
	return 0;
fail:
	kvm_vm_destroy(vm);
	return ret;
}

static void kvm_set_irq(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level l = {.irq = gsi, .level = level ? 1 : 0};
	if (ioctl(kvm_of(vm)->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_rl(LOG_WARN, "kvm: KVM_IRQ_LINE gsi %u: %s", gsi, strerror(errno));
}

static int kvm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
			 int is_pio, int deassign)
{
	struct kvm_ioeventfd io = {
	    .datamatch = datamatch,
	    .addr = addr,
	    .len = len,
	    .fd = fd,
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
		     (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
	};
	if (ioctl(kvm_of(vm)->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}

static int kvm_irqfd(struct vm *vm, unsigned gsi, int fd, int resample_fd, int deassign)
{
	struct kvm_vm *k = kvm_of(vm);
	struct kvm_irqfd irq = {.fd = (uint32_t)fd, .gsi = gsi};

	if (deassign) {
		irq.flags = KVM_IRQFD_FLAG_DEASSIGN;
	} else {
		if (ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD_RESAMPLE) <= 0)
			return -ENOTSUP;
		irq.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irq.resamplefd = (uint32_t)resample_fd;
	}
	if (ioctl(k->vm_fd, KVM_IRQFD, &irq) < 0)
		return -errno;
	return 0;
}

const struct accel_ops accel_kvm_ops = {
    .name = "kvm",
    .probe = kvm_probe,
    .vm_init = kvm_vm_init,
    .vm_destroy = kvm_vm_destroy,
    .vcpu_init = kvm_vcpu_init,
    .vcpu_destroy = kvm_vcpu_destroy,
    .vcpu_set_state = kvm_state_set,
    .vcpu_get_state = kvm_state_get,
    .vcpu_run = kvm_vcpu_run,
    .vcpu_kick = kvm_vcpu_kick,
    .set_irq = kvm_set_irq,
    .ioeventfd = kvm_ioeventfd,
    .irqfd = kvm_irqfd,
    .msi = kvm_msi,
    .msi_irqfd = kvm_msi_irqfd,
};
