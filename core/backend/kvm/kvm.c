/*
 * kvm.c - what every architecture's KVM backend shares (see xg_kvm.h for the contract):
 * /dev/kvm, the VM's RAM and its memslot, payloads, capabilities, KVM_RUN, vCPU events and
 * the vCPU's lifetime. What differs per architecture - how a VM and a vCPU are made and put
 * in their initial state, registers, the vCPU ops - is in x86/ and arm64/, one of which
 * CMake builds (core/CMakeLists.txt, by the target processor).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xg_hot.h"
#include "backend/kvm/kvm_int.h"

int xg_kvm_fail(struct xg_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* What to do about an open("/dev/kvm") failure, for people who meet it first. */
static const char *open_hint(int e)
{
	switch (e) {
	case ENOENT:
		return " - KVM is not loaded: modprobe kvm_intel or kvm_amd, or enable "
		       "virtualization in the firmware / the host of this VM";
	case EACCES:
	case EPERM:
		return " - run as root or add yourself to group kvm";
	default:
		return "";
	}
}

/* The KVM device: /dev/kvm, or $XG_KVM_DEV (to test the error paths, or a renamed node). */
static const char *kvm_dev(void)
{
	const char *d = getenv("XG_KVM_DEV");
	return d && *d ? d : "/dev/kvm";
}

int xg_kvm_open(char *why, size_t n)
{
	int fd = open(kvm_dev(), O_RDWR | O_CLOEXEC);
	int e;

	if (fd < 0) {
		e = errno;
		snprintf(why, n, "cannot open %s: %s%s", kvm_dev(), strerror(e), open_hint(e));
		return -1;
	}
	/* api.rst 4.1 KVM_GET_API_VERSION: 12 is the only stable API, anything else is not
	 * the interface this code speaks. */
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		if (v < 0)
			snprintf(why, n, "%s is not a KVM device (KVM_GET_API_VERSION: %s)",
				 kvm_dev(), strerror(errno));
		else
			snprintf(why, n, "%s speaks API version %d, exitgate needs %d", kvm_dev(),
				 v, KVM_API_VERSION);
		close(fd);
		return -1;
	}
	return fd;
}

int xg_kvm_probe(char *why, size_t n)
{
	char buf[256];
	int fd, vm;

	if (!why) {
		why = buf;
		n = sizeof(buf);
	}
	fd = xg_kvm_open(why, n);
	if (fd < 0)
		return -1;
	/* Opening is not enough: KVM_CREATE_VM fails when the CPU's virtualization is taken
	 * by another hypervisor or disabled. */
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0) {
		snprintf(why, n, "/dev/kvm opens but KVM_CREATE_VM fails: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(vm);
	close(fd);
	if (n)
		why[0] = '\0';
	return 0;
}

static _Atomic uint64_t ram_gens; /* the last VM's ram_gen */

struct xg_kvm_vm *xg_kvm_vm_new(uint64_t ram_base, uint64_t size, struct xg_error *err)
{
	struct xg_kvm_vm *vm = calloc(1, sizeof(*vm));
	char why[sizeof(err->msg)];

	if (!vm) {
		xg_kvm_fail(err, "out of memory for the VM");
		return NULL;
	}
	vm->kvm_fd = vm->vm_fd = vm->gmem_fd = -1;
	vm->mem = MAP_FAILED;
	vm->ram_base = ram_base;
	vm->mem_size = size;
	/* exitgate.h ram_gen: a value no other VM of this process had, so that a translation
	 * kept for a VM gone is not taken for one of a VM made at the same address */
	vm->ram_gen = atomic_fetch_add_explicit(&ram_gens, 1, memory_order_relaxed) + 1;
	pthread_mutex_init(&vm->attr_lock, NULL);
	vm->kvm_fd = xg_kvm_open(why, sizeof(why));
	if (vm->kvm_fd < 0) {
		xg_kvm_fail(err, "%s", why);
		xg_kvm_vm_destroy(vm);
		return NULL;
	}
	return vm;
}

int xg_kvm_vm_open(struct xg_kvm_vm *vm, unsigned long type, const char *type_name,
		   struct xg_error *err)
{
	int r;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
	if (vm->vm_fd < 0)
		return xg_kvm_fail(err, "KVM_CREATE_VM%s: %s", type_name, strerror(errno));
	r = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < (int)sizeof(struct kvm_run))
		return xg_kvm_fail(err, "KVM_GET_VCPU_MMAP_SIZE: %s",
				   r < 0 ? strerror(errno) : "too small");
	vm->run_size = (size_t)r;
	return 0;
}

struct xg_kvm_vcpu *xg_kvm_vcpu_new(struct xg_kvm_vm *vm, int index, struct xg_error *err)
{
	/* 256-byte aligned: the fields before err (224 bytes) never straddle two pages */
	size_t size = (sizeof(struct xg_kvm_vcpu) + 255) & ~(size_t)255;
	struct xg_kvm_vcpu *v = aligned_alloc(256, size);

	if (!v) {
		xg_kvm_fail(err, "out of memory for vCPU %d", index);
		return NULL;
	}
	memset(v, 0, size);
	v->vm = vm;
	v->has_xsave2 = vm->has_xsave2;
	v->xsave_size = vm->xsave_size;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
	if (v->fd < 0) {
		int e = errno;
		xg_kvm_fail(err, "KVM_CREATE_VCPU %d: %s%s", index, strerror(e),
			    e == EEXIST	  ? " - that vCPU index is taken"
			    : e == EINVAL ? " - index out of range (see KVM_CAP_MAX_VCPUS)"
					  : "");
		goto fail;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		xg_kvm_fail(err, "cannot mmap kvm_run of vCPU %d: %s", index, strerror(errno));
		goto fail;
	}
	v->run_size = vm->run_size;
	return v;
fail:
	xg_kvm_vcpu_free(v);
	return NULL;
}

void xg_kvm_vcpu_free(struct xg_kvm_vcpu *v)
{
	xg_kvm_ops_free(v);
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	free(v);
}

void xg_kvm_vm_destroy(struct xg_kvm_vm *vm)
{
	if (!vm)
		return;
	while (vm->vcpus) {
		struct xg_kvm_vcpu *v = vm->vcpus;
		vm->vcpus = v->next;
		xg_kvm_vcpu_free(v);
	}
	if (vm->gmem_fd >= 0)
		close(vm->gmem_fd);
	for (int i = 0; i < vm->nregions; i++)
		free(vm->regions[i].priv);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	pthread_mutex_destroy(&vm->attr_lock);
	if (vm->mem != MAP_FAILED)
		munmap(vm->mem, vm->mem_size);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm->cpuid);
	free(vm);
}

int xg_kvm_vm_fd(struct xg_kvm_vm *vm)
{
	return vm->vm_fd;
}

uint64_t xg_kvm_mem_size(struct xg_kvm_vm *vm)
{
	return vm->mem_size;
}

uint64_t xg_kvm_ram_base(struct xg_kvm_vm *vm)
{
	return vm->ram_base;
}

/*
 * The VM's RAM: an anonymous mapping of mem_size bytes (MAP_NORESERVE: a 3 GiB guest that
 * touches 1 MiB costs 1 MiB), and unless the caller makes its own memslots, memslot 0 with
 * all of it at ram_base (api.rst 4.35 KVM_SET_USER_MEMORY_REGION).
 */
int xg_kvm_map_ram(struct xg_kvm_vm *vm, int memslot, struct xg_error *err)
{
	struct kvm_userspace_memory_region slot = {
	    .slot = 0,
	    .guest_phys_addr = vm->ram_base,
	    .memory_size = vm->mem_size,
	};

	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		return xg_kvm_fail(err, "cannot map %llu MiB of guest RAM: %s",
				   (unsigned long long)vm->mem_size >> 20, strerror(errno));
	slot.userspace_addr = (uintptr_t)vm->mem;
	if (memslot && ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return xg_kvm_fail(err,
				   "KVM_SET_USER_MEMORY_REGION (RAM, %llu MiB at GPA %#llx): %s",
				   (unsigned long long)vm->mem_size >> 20,
				   (unsigned long long)vm->ram_base, strerror(errno));
	return 0;
}

void *xg_kvm_gpa_ptr(struct xg_kvm_vm *vm, uint64_t gpa, size_t len)
{
	return xg_kvm_ram_at(vm, gpa, len);
}

/* Where a payload may go: inside RAM, and clear of what the backend keeps there (x86 long
 * mode: the page tables and GDT). */
static int check_fit(struct xg_kvm_vm *vm, uint64_t gpa, size_t len, struct xg_error *err)
{
	if (!xg_kvm_gpa_ptr(vm, gpa, len))
		return xg_kvm_fail(
		    err,
		    "payload of %zu bytes does not fit at GPA %#llx: RAM is %#llx bytes "
		    "(%llu MiB) from %#llx; load it lower or give the VM more memory",
		    len, (unsigned long long)gpa, (unsigned long long)vm->mem_size,
		    (unsigned long long)vm->mem_size >> 20, (unsigned long long)vm->ram_base);
	if (vm->reserved_end && gpa < vm->reserved_end && gpa + len > vm->reserved_start)
		return xg_kvm_fail(
		    err,
		    "payload of %zu bytes at GPA %#llx would overwrite the long-mode page "
		    "tables and GDT at %#llx..%#llx: load it at XG_KVM_LOAD_ADDR (%#llx)",
		    len, (unsigned long long)gpa, XG_KVM_RESERVED_START, XG_KVM_RESERVED_END - 1,
		    XG_KVM_LOAD_ADDR);
	return 0;
}

int xg_kvm_load(struct xg_kvm_vm *vm, uint64_t gpa, const void *image, size_t len,
		struct xg_error *err)
{
	if (check_fit(vm, gpa, len, err))
		return -1;
	memcpy(xg_kvm_gpa_ptr(vm, gpa, len), image, len);
	return 0;
}

/* read() all of len bytes; 0, or -1 with errno (0 for "file shrank"). */
static int read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int xg_kvm_load_file(struct xg_kvm_vm *vm, uint64_t gpa, const char *path, struct xg_error *err)
{
	struct xg_error e;
	struct stat st;
	uint8_t *buf = NULL;
	size_t len;
	int r = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return xg_kvm_fail(err, "cannot open guest payload %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		xg_kvm_fail(err, "cannot stat guest payload %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		xg_kvm_fail(err, "guest payload %s is not a regular file", path);
		goto out;
	}
	if (st.st_size == 0) {
		xg_kvm_fail(err, "guest payload %s is empty (did its build fail?)", path);
		goto out;
	}
	len = (size_t)st.st_size;
	if (check_fit(vm, gpa, len, &e)) {
		xg_kvm_fail(err, "guest payload %s: %s", path, e.msg);
		goto out;
	}
	/* Read into a copy first: a failed read must not leave half a payload in RAM. */
	buf = malloc(len);
	if (!buf) {
		xg_kvm_fail(err, "out of memory reading guest payload %s (%zu bytes)", path, len);
		goto out;
	}
	if (read_all(fd, buf, len)) {
		xg_kvm_fail(err, "cannot read guest payload %s: %s", path,
			    errno ? strerror(errno) : "file shrank while reading");
		goto out;
	}
	memcpy(xg_kvm_gpa_ptr(vm, gpa, len), buf, len);
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int xg_kvm_enable_cap(struct xg_kvm_vm *vm, uint32_t cap, uint64_t arg0, struct xg_error *err)
{
	struct kvm_enable_cap c = {.cap = cap, .args = {arg0}};

	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &c) < 0) {
		int e = errno;
		int have = xg_kvm_check_cap(vm, cap);
		return xg_kvm_fail(err, "KVM_ENABLE_CAP %u (arg %#llx): %s%s", cap,
				   (unsigned long long)arg0, strerror(e),
				   have <= 0 ? " - this KVM does not offer that capability" : "");
	}
	return 0;
}

int xg_kvm_check_cap(struct xg_kvm_vm *vm, uint32_t cap)
{
	int r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

struct kvm_run *xg_kvm_vcpu_run_area(struct xg_kvm_vcpu *v, size_t *size)
{
	if (size)
		*size = v->run_size;
	return v->run;
}

XG_HOT int xg_kvm_vcpu_run(struct xg_kvm_vcpu *v)
{
	v->xsave_fresh = 0;
	v->fault_ready = 0;
	v->counts.run++;
	if (v->run->kvm_dirty_regs)
		return xg_kvm_arch_run_dirty(v);
	return ioctl(v->fd, KVM_RUN, 0) < 0 ? -errno : 0;
}

int xg_kvm_vcpu_fd(struct xg_kvm_vcpu *v)
{
	return v->fd;
}

int xg_kvm_vcpu_index(struct xg_kvm_vcpu *v)
{
	return v->index;
}

unsigned xg_kvm_vcpu_flags(struct xg_kvm_vcpu *v)
{
	return v->flags;
}

uint64_t xg_kvm_vcpu_xcr0(struct xg_kvm_vcpu *v)
{
	return v->xcr0;
}

int xg_kvm_vcpu_flush(struct xg_kvm_vcpu *v, struct xg_error *err)
{
	int r;

	v->run->immediate_exit = 1;
	r = xg_kvm_vcpu_run(v);
	v->run->immediate_exit = 0;
	if (r == -EINTR)
		return 0;
	if (r == 0)
		/* Completing the access needed user space again (a split MMIO access). */
		return xg_kvm_fail(
		    err,
		    "vCPU %d: completing the pending access produced exit %u; handle it "
		    "before changing registers",
		    v->index, v->run->exit_reason);
	return xg_kvm_fail(err, "vCPU %d: KVM_RUN with immediate_exit: %s", v->index, strerror(-r));
}

void xg_kvm_vcpu_ioctl_counts(struct xg_kvm_vcpu *v, struct xg_kvm_ioctl_counts *c)
{
	*c = v->counts;
}

/* The ioctl itself, timed into v->prof when profiling; its caller counted it. No errno read
 * on success (errno is a call into libc). */
XG_HOT int xg_kvm_vcpu_ioctl_counted(struct xg_kvm_vcpu *v, unsigned long req, const char *name,
				     void *arg, struct xg_error *err)
{
	int r, e;

	if (XG_UNLIKELY(v->prof)) {
		int old = xg_profile_enter(v->prof, XG_PROF_IOCTL);
		r = ioctl(v->fd, req, arg);
		e = errno;
		xg_profile_enter(v->prof, old);
	} else {
		r = ioctl(v->fd, req, arg);
		if (XG_LIKELY(r >= 0))
			return 0;
		e = errno;
	}
	if (r < 0)
		return xg_kvm_fail(err, "%s (vCPU %d): %s", name, v->index, strerror(e));
	return 0;
}

XG_HOT int xg_kvm_vcpu_ioctl(struct xg_kvm_vcpu *v, unsigned long req, const char *name, void *arg,
			     struct xg_error *err)
{
	if (xg_kvm_arch_before_ioctl(v, req, err))
		return -1;
	return xg_kvm_vcpu_ioctl_counted(v, req, name, arg, err);
}

void xg_kvm_vcpu_set_profile(struct xg_kvm_vcpu *v, struct xg_profile *p)
{
	v->prof = p;
}

int xg_kvm_get_vcpu_events(struct xg_kvm_vcpu *v, struct kvm_vcpu_events *e, struct xg_error *err)
{
	return xg_kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", e, err);
}

int xg_kvm_set_vcpu_events(struct xg_kvm_vcpu *v, const struct kvm_vcpu_events *e,
			   struct xg_error *err)
{
	return xg_kvm_vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", (void *)e, err);
}
