/*
 * kvm_x86.c - the x86 VM and vCPU: long-mode page tables and GDT, CPUID, XCR0, sregs, the
 * XSAVE image, private memory (see xg_kvm.h for the contract and memory map; kvm.c has what
 * the architectures share).
 *
 * The order of the per-vCPU setup matters and follows what KVM checks:
 *   KVM_SET_CPUID2 first - KVM validates CR4 bits (OSXSAVE) and XCR0 against the guest's
 *   CPUID, so both would be refused before it (api.rst "KVM_SET_CPUID2");
 *   then KVM_SET_SREGS (modes, segments, paging), KVM_SET_XCRS, KVM_SET_REGS.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm_para.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xg_hot.h"
#include "backend/kvm/kvm_int.h"
#include "backend/kvm/x86/sync_regs.h"
#include "xg_emu_x86.h"

#define XG_KVM_PAGE 4096ULL

/*
 * The long-mode region in low RAM, one 4 KiB page each:
 *   0x1000 GDT: null, 64-bit code (0x08), flat data (0x10), 64-bit TSS descriptor (0x18,
 *          16 bytes)
 *   0x2000 TSS: never used by a guest that takes no interrupts, but VM entry requires TR to
 *          name a busy TSS in IA-32e mode (SDM Vol. 3C, VM entries, "Checks on Guest
 *          Segment Registers", TR)
 *   0x3000 PML4, 0x4000 PDPT
 *   0x5000 .. 0x8fff four page directories of 2 MiB pages, one per GiB (SDM Vol. 3A 4.5,
 *          table "Format of a Page-Directory Entry that Maps a 2-MByte Page")
 *   0x9000 free, kept for an IDT
 */
#define GDT_ADDR  0x1000ULL
#define TSS_ADDR  0x2000ULL
#define PML4_ADDR 0x3000ULL
#define PDPT_ADDR 0x4000ULL
#define PD_ADDR	  0x5000ULL
#define PD_COUNT  4    /* 4 GiB identity map: RAM and the MMIO window below 4 GiB */
#define TSS_LIMIT 0x67 /* 104-byte 64-bit TSS (SDM Vol. 3A "Task Management in 64-bit Mode") */

/* Paging-structure entry bits (SDM Vol. 3A 4.5 "4-Level Paging and 5-Level Paging"). */
#define PTE_P  0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

/* Control registers (SDM Vol. 3A 2.5) and EFER (2.2.1). */
#define CR0_PE	       0x1ULL
#define CR0_MP	       0x2ULL
#define CR0_ET	       0x10ULL
#define CR0_NE	       0x20ULL
#define CR0_WP	       0x10000ULL
#define CR0_AM	       0x40000ULL
#define CR0_PG	       0x80000000ULL
#define CR4_PAE	       0x20ULL
#define CR4_OSFXSR     0x200ULL
#define CR4_OSXMMEXCPT 0x400ULL
#define CR4_OSXSAVE    0x40000ULL
#define EFER_LME       0x100ULL
#define EFER_LMA       0x400ULL

/* XCR0 state components (SDM Vol. 1 13.1, 13.3). */
#define XFEATURE_X87	0x1ULL
#define XFEATURE_SSE	0x2ULL
#define XFEATURE_AVX	0x4ULL
#define XFEATURE_AVX512 0xe0ULL /* opmask | ZMM_Hi256 | Hi16_ZMM: all or none */

/* Intel needs three pages for the real-mode TSS that KVM keeps for guests without
 * unrestricted-guest support (api.rst 4.36 KVM_SET_TSS_ADDR). QEMU's address: it is below
 * 4 GiB, outside RAM and outside the MMIO window. */
#define REALMODE_TSS_GPA 0xfffbd000ULL

#define REAL_MODE_SP 0xfff0ULL

/* api.rst 4.46 KVM_GET_SUPPORTED_CPUID: E2BIG means "more entries than you offered". */
static struct kvm_cpuid2 *supported_cpuid(int kvm_fd, struct xg_error *err)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c =
		    calloc(1, sizeof(*c) + nent * sizeof(struct kvm_cpuid_entry2));
		if (!c) {
			xg_kvm_fail(err, "out of memory for %u CPUID entries", nent);
			return NULL;
		}
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int e = errno;
		free(c);
		if (e != E2BIG) {
			xg_kvm_fail(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
			return NULL;
		}
	}
	xg_kvm_fail(err, "KVM_GET_SUPPORTED_CPUID wants more than 4096 entries");
	return NULL;
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		int indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		if (e->function == fn && (!indexed || e->index == idx))
			return e;
	}
	return NULL;
}

/* The vendor the guest sees in CPUID leaf 0, for the emulator's vendor-specific behaviour;
 * the host's when the table has no leaf 0. */
static uint8_t cpuid_vendor(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	return e ? xg_emu_x86_vendor_of(e->ebx, e->ecx, e->edx) : XG_EMU_X86_VENDOR_HOST;
}

/*
 * Identity map of [0, 4 GiB) with 2 MiB pages: RAM and the MMIO window are both reachable
 * by address; what has no memslot exits to user space on access.
 */
static void build_page_tables(struct xg_kvm_vm *vm)
{
	uint64_t *pml4 = (uint64_t *)(vm->mem + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(vm->mem + PDPT_ADDR);

	memset(vm->mem + XG_KVM_RESERVED_START, 0, XG_KVM_RESERVED_END - XG_KVM_RESERVED_START);
	pml4[0] = PDPT_ADDR | PTE_P | PTE_RW;
	for (uint64_t g = 0; g < PD_COUNT; g++) {
		uint64_t *pd = (uint64_t *)(vm->mem + PD_ADDR + g * XG_KVM_PAGE);
		pdpt[g] = (PD_ADDR + g * XG_KVM_PAGE) | PTE_P | PTE_RW;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g << 30 | i << 21) | PTE_P | PTE_RW | PTE_PS;
	}
}

/*
 * Segment descriptors (SDM Vol. 3A 3.4.5 "Segment Descriptors"; the 16-byte TSS
 * descriptor: "TSS Descriptor in 64-bit Mode"). Values in the GDT match what KVM_SET_SREGS loads
 * into the hidden parts, so a guest that reloads a selector gets the same segment.
 */
static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned type, unsigned s, unsigned l,
			 unsigned db, unsigned g)
{
	return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)type << 40 | (uint64_t)s << 44 | 1ULL << 47 /* P, DPL 0 */ |
	       (uint64_t)(limit >> 16 & 0xf) << 48 | (uint64_t)l << 53 | (uint64_t)db << 54 |
	       (uint64_t)g << 55 | (uint64_t)(base >> 24) << 56;
}

static void build_gdt(struct xg_kvm_vm *vm)
{
	uint64_t *gdt = (uint64_t *)(vm->mem + GDT_ADDR);

	gdt[0] = 0;
	gdt[XG_KVM_SEL_CODE64 / 8] = seg_desc(0, 0xfffff, 0xb, 1, 1, 0, 1);
	gdt[XG_KVM_SEL_DATA / 8] = seg_desc(0, 0xfffff, 0x3, 1, 0, 1, 1);
	gdt[XG_KVM_SEL_TSS / 8] = seg_desc(TSS_ADDR, TSS_LIMIT, 0xb, 0, 0, 0, 0);
	gdt[XG_KVM_SEL_TSS / 8 + 1] = TSS_ADDR >> 32;
}

static int check_opts(const struct xg_kvm_vm_opts *o, uint64_t size, struct xg_error *err)
{
	if (o->mode != XG_KVM_LONG && o->mode != XG_KVM_REAL)
		return xg_kvm_fail(err, "unknown vCPU mode %d: use XG_KVM_LONG or XG_KVM_REAL", o->mode);
	if (size % XG_KVM_PAGE)
		return xg_kvm_fail(err, "RAM size %#llx is not a multiple of 4 KiB",
			    (unsigned long long)size);
	if (size > XG_KVM_MMIO_BASE)
		return xg_kvm_fail(err,
			    "RAM size %#llx would reach into the MMIO window at %#llx: use at "
			    "most %llu MiB",
			    (unsigned long long)size, XG_KVM_MMIO_BASE, XG_KVM_MMIO_BASE >> 20);
	if (o->mode == XG_KVM_LONG && size < 2 * XG_KVM_RESERVED_END)
		return xg_kvm_fail(err,
			    "RAM size %#llx is too small for long mode: the page tables alone "
			    "take up to %#llx",
			    (unsigned long long)size, XG_KVM_RESERVED_END);
	return 0;
}

/*
 * What a sw_protected VM needs of KVM, each checked on /dev/kvm (api.rst 7.x): the VM type
 * (KVM_CAP_VM_TYPES, bit KVM_X86_SW_PROTECTED_VM), guest_memfd, the PRIVATE attribute,
 * KVM_SET_USER_MEMORY_REGION2, exits with the GPA of a memory fault, and MAP_GPA_RANGE
 * hypercall exits (KVM_CAP_EXIT_HYPERCALL's bitmask, 8.34).
 */
const char *xg_kvm_pmem_missing(int kvm_fd, char *buf, size_t n)
{
	static const struct {
		long cap;
		long bits; /* 0: any positive value */
		const char *name;
	} need[] = {
	    {KVM_CAP_VM_TYPES, 1l << KVM_X86_SW_PROTECTED_VM, "KVM_CAP_VM_TYPES (SW_PROTECTED_VM)"},
	    {KVM_CAP_GUEST_MEMFD, 0, "KVM_CAP_GUEST_MEMFD"},
	    {KVM_CAP_MEMORY_ATTRIBUTES, (long)KVM_MEMORY_ATTRIBUTE_PRIVATE,
	     "KVM_CAP_MEMORY_ATTRIBUTES (PRIVATE)"},
	    {KVM_CAP_USER_MEMORY2, 0, "KVM_CAP_USER_MEMORY2"},
	    {KVM_CAP_MEMORY_FAULT_INFO, 0, "KVM_CAP_MEMORY_FAULT_INFO"},
	    {KVM_CAP_EXIT_HYPERCALL, 1l << KVM_HC_MAP_GPA_RANGE,
	     "KVM_CAP_EXIT_HYPERCALL (MAP_GPA_RANGE)"},
	};
	size_t l = 0;

	if (n)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(need) / sizeof(*need); i++) {
		long v = ioctl(kvm_fd, KVM_CHECK_EXTENSION, need[i].cap);
		if (v > 0 && (!need[i].bits || (v & need[i].bits)))
			continue;
		if (l < n)
			l += (size_t)snprintf(buf + l, n - l, "%s%s = %ld", l ? ", " : "",
					      need[i].name, v < 0 ? 0 : v);
	}
	return buf;
}

/* One memslot of sw_protected RAM, [gpa, gpa+size): with the guest_memfd (offset = GPA) or
 * without (shared only). api.rst 4.140 KVM_SET_USER_MEMORY_REGION2. */
static int pmem_slot(struct xg_kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, int gmem,
		     struct xg_error *err)
{
	struct kvm_userspace_memory_region2 r = {
	    .slot = slot,
	    .flags = gmem ? KVM_MEM_GUEST_MEMFD : 0,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uintptr_t)(vm->mem + gpa),
	    .guest_memfd_offset = gmem ? gpa : 0,
	    .guest_memfd = gmem ? (uint32_t)vm->gmem_fd : 0,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION2, &r) < 0)
		return xg_kvm_fail(err,
			    "KVM_SET_USER_MEMORY_REGION2 (RAM 0x%llx..0x%llx, %s guest_memfd): %s",
			    (unsigned long long)gpa, (unsigned long long)(gpa + size - 1),
			    gmem ? "with the" : "without", strerror(errno));
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct xg_kvm_range *x = a, *y = b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static int add_region(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, int backed,
		      struct xg_error *err);

/*
 * XG_KVM_FAIL_CONVERT=STEP:N[,STEP:N...] (STEP attributes or discard): a test hook that makes
 * that step of the N-th conversion (counted from 1, the VM's vm.private ones included) fail
 * with EIO, as a refused KVM_SET_MEMORY_ATTRIBUTES or a failing fallocate/madvise would:
 * the kernel does not fail them on its own. t_pmem_run uses it.
 */
static int parse_fail_convert(struct xg_kvm_vm *vm, struct xg_error *err)
{
	const char *s = getenv("XG_KVM_FAIL_CONVERT");
	char *end;

	while (s && *s) {
		int step = !strncmp(s, "attributes:", 11) ? 1 : !strncmp(s, "discard:", 8) ? 2 : 0;
		unsigned long long n = 0;
		if (step) {
			s += step == 1 ? 11 : 8;
			errno = 0;
			n = strtoull(s, &end, 10);
		}
		if (!step || end == s || errno || !n || (*end && *end != ',') ||
		    vm->ninject >= (int)(sizeof(vm->inject) / sizeof(*vm->inject)))
			return xg_kvm_fail(err,
				    "XG_KVM_FAIL_CONVERT='%s': expected at most 8 of "
				    "attributes:N or discard:N (N >= 1), separated by commas",
				    getenv("XG_KVM_FAIL_CONVERT"));
		vm->inject[vm->ninject].step = step;
		vm->inject[vm->ninject++].nth = n;
		s = *end ? end + 1 : end;
	}
	return 0;
}

/*
 * sw_protected RAM: a guest_memfd of the RAM's size (api.rst 4.143) for the private side,
 * vm->mem for the shared side; memslots with both, except the plain ranges, which get
 * memslots of their own without the guest_memfd. All pages start shared (no attributes).
 * MAP_GPA_RANGE hypercalls exit to the VMM (8.34 KVM_CAP_EXIT_HYPERCALL).
 */
static int pmem_setup(struct xg_kvm_vm *vm, const struct xg_kvm_vm_opts *o, struct xg_error *err)
{
	struct kvm_create_guest_memfd cg = {.size = vm->mem_size};
	struct kvm_enable_cap cap = {.cap = KVM_CAP_EXIT_HYPERCALL,
				     .args = {1ull << KVM_HC_MAP_GPA_RANGE}};
	struct xg_kvm_range plain[XG_KVM_MAX_PLAIN];
	uint64_t at = 0;
	uint32_t slot = 0;

	if (o->nplain > XG_KVM_MAX_PLAIN)
		return xg_kvm_fail(err, "%zu plain RAM ranges, at most %d", o->nplain, XG_KVM_MAX_PLAIN);
	if (o->nplain)
		memcpy(plain, o->plain, o->nplain * sizeof(*plain));
	qsort(plain, o->nplain, sizeof(*plain), range_cmp);
	for (size_t i = 0; i < o->nplain; i++) {
		const struct xg_kvm_range *p = &plain[i];
		if (!p->size || p->gpa % XG_KVM_PAGE || p->size % XG_KVM_PAGE ||
		    p->gpa >= vm->mem_size || p->size > vm->mem_size - p->gpa ||
		    (i && p->gpa < plain[i - 1].gpa + plain[i - 1].size))
			return xg_kvm_fail(err,
				    "plain RAM range 0x%llx+0x%llx: ranges must be whole pages "
				    "inside RAM, not overlapping",
				    (unsigned long long)p->gpa, (unsigned long long)p->size);
	}
	vm->gmem_fd = ioctl(vm->vm_fd, KVM_CREATE_GUEST_MEMFD, &cg);
	if (vm->gmem_fd < 0)
		return xg_kvm_fail(err, "KVM_CREATE_GUEST_MEMFD (%llu MiB): %s",
			    (unsigned long long)vm->mem_size >> 20, strerror(errno));
	for (size_t i = 0; i < o->nplain; i++) {
		if (plain[i].gpa > at && pmem_slot(vm, slot++, at, plain[i].gpa - at, 1, err))
			return -1;
		if (pmem_slot(vm, slot++, plain[i].gpa, plain[i].size, 0, err))
			return -1;
		at = plain[i].gpa + plain[i].size;
	}
	if (at < vm->mem_size && pmem_slot(vm, slot++, at, vm->mem_size - at, 1, err))
		return -1;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return xg_kvm_fail(err, "KVM_ENABLE_CAP KVM_CAP_EXIT_HYPERCALL (MAP_GPA_RANGE): %s",
			    strerror(errno));
	if (add_region(vm, 0, vm->mem_size, 1, err))
		return -1;
	return parse_fail_convert(vm, err);
}

/* The attribute region wholly holding [gpa, gpa+size), or NULL (size > 0, no wrap). */
static struct xg_kvm_attr_region *attr_region(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size)
{
	for (int i = 0; i < vm->nregions; i++) {
		struct xg_kvm_attr_region *r = &vm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size && size <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

/* The failure XG_KVM_FAIL_CONVERT asks for at this attempt's step, or 0. */
static int injected(struct xg_kvm_vm *vm, int step)
{
	for (int i = 0; i < vm->ninject; i++)
		if (vm->inject[i].step == step && vm->inject[i].nth == vm->attempts)
			return EIO;
	return 0;
}

/* KVM_SET_MEMORY_ATTRIBUTES (api.rst 4.141) for [gpa, gpa+size), counted. */
static int set_attrs(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, int private)
{
	struct kvm_memory_attributes ma = {
	    .address = gpa,
	    .size = size,
	    .attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};

	vm->attr_ioctls++;
	return ioctl(vm->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &ma) < 0 ? -errno : 0;
}

/* After a failed step: tell KVM again what r->priv says for the range, run by run of pages
 * with the same attribute (the range may have been part private, part shared). 0 or -errno
 * of the first put-back that failed. */
static int put_back(struct xg_kvm_vm *vm, struct xg_kvm_attr_region *r, uint64_t gpa, uint64_t size)
{
	uint64_t first = (gpa - r->gpa) / XG_KVM_PAGE, n = size / XG_KVM_PAGE, i = 0;
	int rc = 0;

	while (i < n) {
		uint64_t j = i;
		while (j < n && r->priv[first + j] == r->priv[first + i])
			j++;
		int e =
		    set_attrs(vm, gpa + i * XG_KVM_PAGE, (j - i) * XG_KVM_PAGE, r->priv[first + i]);
		if (e && !rc)
			rc = e;
		i = j;
	}
	return rc;
}

/*
 * A conversion, in two steps under attr_lock (attributes are VM-wide; vCPUs that do not
 * convert never take the lock): 1. KVM_SET_MEMORY_ATTRIBUTES; 2. on RAM, discard the side
 * no longer valid. If step 2 fails, the attributes are put back page run by page run to what
 * they were, so that they still say which side holds each page's data, and neither side was
 * discarded. A device window has nothing to discard.
 */
int xg_kvm_set_private(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, int to_private,
		       struct xg_error *err)
{
	const char *to = to_private ? "private" : "shared";
	struct xg_kvm_attr_region *r;
	int e;

	if (vm->type != XG_KVM_VM_SW_PROTECTED) {
		xg_kvm_fail(err,
		     "cannot make 0x%llx+0x%llx %s: the VM has no private memory (give the guest "
		     "'vm: { type: sw_protected }')",
		     (unsigned long long)gpa, (unsigned long long)size, to);
		return -EOPNOTSUPP;
	}
	/* api.rst 4.141: address and size page aligned; the range must not wrap; and here it
	 * must be RAM (where the guest_memfd and the shared mapping are) or a device window. */
	pthread_mutex_lock(&vm->attr_lock);
	r = size && !(gpa % XG_KVM_PAGE) && !(size % XG_KVM_PAGE) ? attr_region(vm, gpa, size)
								  : NULL;
	if (!r) {
		pthread_mutex_unlock(&vm->attr_lock);
		xg_kvm_fail(err,
		     "cannot make 0x%llx+0x%llx %s: the range must be whole 4K pages (size > 0) "
		     "inside RAM 0x0..0x%llx%s",
		     (unsigned long long)gpa, (unsigned long long)size, to,
		     (unsigned long long)vm->mem_size - 1,
		     vm->nregions > 1 ? " or inside one device window" : "");
		return -EINVAL;
	}
	vm->attempts++;
	e = injected(vm, 1);
	if (e || (e = -set_attrs(vm, gpa, size, to_private))) {
		vm->conv_failed++;
		pthread_mutex_unlock(&vm->attr_lock);
		xg_kvm_fail(err,
		     "making 0x%llx+0x%llx %s: step 1, KVM_SET_MEMORY_ATTRIBUTES: %s%s; nothing "
		     "changed",
		     (unsigned long long)gpa, (unsigned long long)size, to, strerror(e),
		     injected(vm, 1) ? " (injected by XG_KVM_FAIL_CONVERT)" : "");
		return -e;
	}
	/*
	 * The side no longer valid is dropped, as the kernel's guest_memfd selftests do: on the
	 * way to shared the private pages go (fallocate PUNCH_HOLE|KEEP_SIZE on the guest_memfd,
	 * api.rst 4.143: "... the guest_memfd ... punch hole"), on the way to private the
	 * shared ones (madvise MADV_DONTNEED: the next shared use starts from zeros).
	 */
	e = r->backed ? injected(vm, 2) : 0;
	if (r->backed && !e &&
	    (to_private ? madvise(vm->mem + gpa, size, MADV_DONTNEED)
			: fallocate(vm->gmem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    (off_t)gpa, (off_t)size)))
		e = errno;
	if (e) {
		int back = put_back(vm, r, gpa, size);
		vm->conv_failed++;
		pthread_mutex_unlock(&vm->attr_lock);
		xg_kvm_fail(err, "making 0x%llx+0x%llx %s: step 2, %s: %s%s; %s", (unsigned long long)gpa,
		     (unsigned long long)size, to,
		     to_private ? "madvise(MADV_DONTNEED) of the shared pages"
				: "fallocate(PUNCH_HOLE) of the guest_memfd",
		     strerror(e), injected(vm, 2) ? " (injected by XG_KVM_FAIL_CONVERT)" : "",
		     back ? "putting the attributes back failed too: they may not say where the "
			    "data is"
			  : "the attributes are as they were and nothing was discarded");
		return -e;
	}
	memset(r->priv + (gpa - r->gpa) / XG_KVM_PAGE, to_private ? 1 : 0, size / XG_KVM_PAGE);
	vm->conversions++;
	pthread_mutex_unlock(&vm->attr_lock);
	return 0;
}

int xg_kvm_map_gpa_valid(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t npages, uint64_t attrs)
{
	/* x86/hypercalls.rst 8: attributes bits 3:0 are the page size, 0 4K, 1 2M, 2 1G */
	static const unsigned shift[] = {12, 21, 30};
	uint64_t ps = attrs & 0xf;
	int ok;

	if (ps > 2 || !npages || npages > (UINT64_MAX >> shift[ps]) || gpa % XG_KVM_PAGE)
		return 0;
	pthread_mutex_lock(&vm->attr_lock);
	ok = attr_region(vm, gpa, npages << shift[ps]) != NULL;
	pthread_mutex_unlock(&vm->attr_lock);
	return ok;
}

uint64_t xg_kvm_conversions(struct xg_kvm_vm *vm)
{
	uint64_t n;

	pthread_mutex_lock(&vm->attr_lock);
	n = vm->conversions;
	pthread_mutex_unlock(&vm->attr_lock);
	return n;
}

static int add_region(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, int backed,
		      struct xg_error *err)
{
	struct xg_kvm_attr_region *r;

	if (vm->nregions >= 1 + XG_KVM_MAX_WINDOWS) {
		xg_kvm_fail(err, "more than %d device windows with memory attributes", XG_KVM_MAX_WINDOWS);
		return -ENOSPC;
	}
	if (!size || gpa % XG_KVM_PAGE || size % XG_KVM_PAGE || gpa + size < gpa) {
		xg_kvm_fail(err, "device window 0x%llx+0x%llx: not whole 4K pages",
		     (unsigned long long)gpa, (unsigned long long)size);
		return -EINVAL;
	}
	for (int i = 0; i < vm->nregions; i++) {
		const struct xg_kvm_attr_region *o = &vm->regions[i];
		if (gpa < o->gpa + o->size && o->gpa < gpa + size) {
			xg_kvm_fail(err, "device window 0x%llx+0x%llx overlaps %s 0x%llx+0x%llx",
			     (unsigned long long)gpa, (unsigned long long)size,
			     o->backed ? "RAM" : "the window", (unsigned long long)o->gpa,
			     (unsigned long long)o->size);
			return -EINVAL;
		}
	}
	r = &vm->regions[vm->nregions];
	r->priv = calloc(size / XG_KVM_PAGE, 1);
	if (!r->priv) {
		xg_kvm_fail(err, "out of memory for the attributes of 0x%llx+0x%llx",
		     (unsigned long long)gpa, (unsigned long long)size);
		return -ENOMEM;
	}
	r->gpa = gpa;
	r->size = size;
	r->backed = backed;
	vm->nregions++;
	return 0;
}

int xg_kvm_add_window(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, struct xg_error *err)
{
	int rc;

	if (vm->type != XG_KVM_VM_SW_PROTECTED)
		return 0; /* nothing to convert there */
	pthread_mutex_lock(&vm->attr_lock);
	rc = add_region(vm, gpa, size, 0, err);
	pthread_mutex_unlock(&vm->attr_lock);
	return rc;
}

void xg_kvm_pmem_stats(struct xg_kvm_vm *vm, struct xg_kvm_pmem_stats *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&vm->attr_lock);
	s->conversions = vm->conversions;
	s->failed = vm->conv_failed;
	s->attr_ioctls = vm->attr_ioctls;
	for (int i = 0; i < vm->nregions; i++)
		for (uint64_t p = 0; p < vm->regions[i].size / XG_KVM_PAGE; p++)
			s->private_pages += vm->regions[i].priv[p];
	pthread_mutex_unlock(&vm->attr_lock);
}

size_t xg_kvm_private_ranges(struct xg_kvm_vm *vm, struct xg_kvm_range *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&vm->attr_lock);
	/* regions in GPA order: RAM at 0 first, then the windows as added (sorted below) */
	for (int i = 0; i < vm->nregions; i++) {
		const struct xg_kvm_attr_region *r = &vm->regions[i];
		uint64_t pages = r->size / XG_KVM_PAGE;
		for (uint64_t p = 0; p < pages; p++) {
			if (!r->priv[p])
				continue;
			uint64_t q = p;
			while (q < pages && r->priv[q])
				q++;
			if (n < max)
				out[n] = (struct xg_kvm_range){r->gpa + p * XG_KVM_PAGE,
							       (q - p) * XG_KVM_PAGE};
			n++;
			p = q;
		}
	}
	pthread_mutex_unlock(&vm->attr_lock);
	if (n > 1)
		qsort(out, n < max ? n : max, sizeof(*out), range_cmp);
	return n;
}

int xg_kvm_vm_create(struct xg_kvm_vm **out, const struct xg_kvm_vm_opts *o, struct xg_error *err)
{
	static const struct xg_kvm_vm_opts defaults = {0};
	struct xg_kvm_vm *vm;
	char why[sizeof(err->msg)];
	int r;

	*out = NULL;
	if (!o)
		o = &defaults;
	uint64_t size = o->mem_size ? o->mem_size : XG_KVM_DEFAULT_MEM;
	if (check_opts(o, size, err))
		return -1;

	vm = xg_kvm_vm_new(0, size, err);
	if (!vm)
		return -1;
	vm->mode = o->mode;
	vm->type = o->type;
	if (o->mode == XG_KVM_LONG) {
		vm->reserved_start = XG_KVM_RESERVED_START;
		vm->reserved_end = XG_KVM_RESERVED_END;
	}
	if (vm->type == XG_KVM_VM_SW_PROTECTED &&
	    *xg_kvm_pmem_missing(vm->kvm_fd, why, sizeof(why))) {
		xg_kvm_fail(err,
		     "vm.type sw_protected needs private memory, which this KVM lacks: %s "
		     "(Linux 6.8+ built with CONFIG_KVM_SW_PROTECTED_VM, on a CPU with nested "
		     "paging); remove 'type: sw_protected' to run the guest without it",
		     why);
		goto fail;
	}
	if (xg_kvm_vm_open(vm, vm->type == XG_KVM_VM_SW_PROTECTED ? KVM_X86_SW_PROTECTED_VM : 0,
			   vm->type == XG_KVM_VM_SW_PROTECTED ? " (KVM_X86_SW_PROTECTED_VM)" : "",
			   err))
		goto fail;
	r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	vm->has_xsave2 = r > 0;
	vm->xsave_size = r > (int)sizeof(struct kvm_xsave) ? (size_t)r : sizeof(struct kvm_xsave);

	vm->cpuid = supported_cpuid(vm->kvm_fd, err);
	if (!vm->cpuid)
		goto fail;
	vm->vendor = cpuid_vendor(vm->cpuid);

	/* On Intel without unrestricted guest, real mode runs in vm86 and needs this area;
	 * elsewhere the ioctl is accepted and ignored. */
	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, REALMODE_TSS_GPA) < 0) {
		xg_kvm_fail(err, "KVM_SET_TSS_ADDR %#llx: %s", REALMODE_TSS_GPA, strerror(errno));
		goto fail;
	}

	if (xg_kvm_map_ram(vm, vm->type != XG_KVM_VM_SW_PROTECTED, err))
		goto fail;
	if (vm->type == XG_KVM_VM_SW_PROTECTED && pmem_setup(vm, o, err))
		goto fail;
	if (vm->mode == XG_KVM_LONG) {
		build_page_tables(vm);
		build_gdt(vm);
	}
	*out = vm;
	return 0;
fail:
	xg_kvm_vm_destroy(vm);
	return -1;
}

/* Per-vCPU CPUID: the supported set, with this vCPU's APIC ID where CPUID reports it
 * (leaf 1 EBX[31:24], leaves 0xB/0x1F EDX; SDM Vol. 2A CPUID). */
static int set_cpuid(struct xg_kvm_vcpu *v, struct xg_error *err)
{
	struct kvm_cpuid2 *src = v->vm->cpuid;
	size_t sz = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int r;

	if (!c)
		return xg_kvm_fail(err, "out of memory for CPUID");
	memcpy(c, src, sz);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | (uint32_t)v->index << 24;
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)v->index;
	}
	r = ioctl(v->fd, KVM_SET_CPUID2, c);
	if (r < 0)
		r = xg_kvm_fail(err, "KVM_SET_CPUID2 (vCPU %d, %u entries): %s", v->index, c->nent,
			 strerror(errno));
	free(c);
	return r;
}

/*
 * XCR0: x87|SSE|AVX, and the three AVX-512 components when CPUID leaf 0xD sub-leaf 0
 * (EDX:EAX, the XCR0 bits the guest may set) has all of them (SDM Vol. 1 13.3: bits 5-7
 * must be set together, and only with AVX). If KVM refuses the AVX-512 value, fall back to
 * x87|SSE|AVX and say so in the vCPU flags.
 */
static int set_xcr0(struct xg_kvm_vcpu *v, struct xg_error *err)
{
	struct kvm_cpuid_entry2 *d = cpuid_find(v->vm->cpuid, 0xd, 0);
	uint64_t allowed = d ? ((uint64_t)d->edx << 32 | d->eax) : XFEATURE_X87;
	uint64_t want = XFEATURE_X87 | (allowed & (XFEATURE_SSE | XFEATURE_AVX));
	struct kvm_xcrs x = {.nr_xcrs = 1};

	if ((want & XFEATURE_AVX) && (allowed & XFEATURE_AVX512) == XFEATURE_AVX512)
		want |= XFEATURE_AVX512;
	x.xcrs[0].xcr = 0;
	x.xcrs[0].value = want;
	if (ioctl(v->fd, KVM_SET_XCRS, &x) == 0) {
		v->xcr0 = want;
		if (want & XFEATURE_AVX512)
			v->flags |= XG_KVM_VCPU_AVX512;
		return 0;
	}
	int e = errno;
	if (want & XFEATURE_AVX512) {
		x.xcrs[0].value = want & ~XFEATURE_AVX512;
		if (ioctl(v->fd, KVM_SET_XCRS, &x) == 0) {
			v->xcr0 = x.xcrs[0].value;
			v->flags |= XG_KVM_VCPU_XCR0_FALLBACK;
			return 0;
		}
	}
	return xg_kvm_fail(err, "KVM_SET_XCRS XCR0=%#llx (vCPU %d): %s", (unsigned long long)want,
		    v->index, strerror(e));
}

/*
 * Whether to give the guest XSAVE state (CR4.OSXSAVE and an XCR0 beyond x87). Decided by
 * CPUID leaf 0xD, not by leaf 1 ECX.XSAVE: kvm_pvm's KVM_GET_SUPPORTED_CPUID clears the
 * leaf-1 bit (and SSE3..AVX) while leaf 0xD offers 0xe7 and KVM_SET_XCRS accepts it. Whether
 * CR4.OSXSAVE is accepted is left to KVM_SET_SREGS (see xg_kvm_vcpu_create).
 */
static int want_xsave(struct xg_kvm_vm *vm)
{
	struct kvm_cpuid_entry2 *d = cpuid_find(vm->cpuid, 0xd, 0);
	return d && (d->eax & XFEATURE_SSE) && xg_kvm_check_cap(vm, KVM_CAP_XCRS) > 0;
}

static void sregs_long(struct kvm_sregs *s, int xsave)
{
	struct kvm_segment code = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = XG_KVM_SEL_CODE64,
	    .type = 0xb, /* execute/read, accessed */
	    .present = 1,
	    .s = 1,
	    .l = 1,
	    .g = 1,
	};
	struct kvm_segment data = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = XG_KVM_SEL_DATA,
	    .type = 0x3, /* read/write, accessed */
	    .present = 1,
	    .s = 1,
	    .db = 1,
	    .g = 1,
	};
	struct kvm_segment tr = {
	    .base = TSS_ADDR,
	    .limit = TSS_LIMIT,
	    .selector = XG_KVM_SEL_TSS,
	    .type = 0xb, /* busy 64-bit TSS */
	    .present = 1,
	};

	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = tr;
	s->ldt = (struct kvm_segment){.type = 0x2, .unusable = 1};
	s->gdt.base = GDT_ADDR;
	s->gdt.limit = (XG_KVM_SEL_TSS + 16) - 1;
	/* No IDT: an exception in a test payload becomes a triple fault (KVM_EXIT_SHUTDOWN),
	 * which is the clearest signal a payload has. */
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s->cr3 = PML4_ADDR;
	s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (xsave ? CR4_OSXSAVE : 0);
	s->efer = EFER_LME | EFER_LMA;
}

/* Real mode: CS:IP = entry, segment bases = selector << 4 (SDM Vol. 3B "Address Translation in
 * Real-Address Mode"). */
static int sregs_real(struct kvm_sregs *s, struct kvm_regs *r, uint64_t entry, struct xg_error *err)
{
	if (entry >= 0x100000)
		return xg_kvm_fail(err,
			    "real-mode entry %#llx is not below 1 MiB: load real-mode code "
			    "lower (e.g. 0x10000)",
			    (unsigned long long)entry);
	s->cs.selector = (uint16_t)((entry >> 4) & 0xf000);
	s->cs.base = (uint64_t)s->cs.selector << 4;
	r->rip = entry - s->cs.base;
	struct kvm_segment *d[] = {&s->ds, &s->es, &s->fs, &s->gs, &s->ss};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		d[i]->selector = 0;
		d[i]->base = 0;
	}
	r->rsp = REAL_MODE_SP;
	return 0;
}

int xg_kvm_vcpu_create(struct xg_kvm_vm *vm, int index, uint64_t entry, struct xg_kvm_vcpu **out,
		       struct xg_error *err)
{
	struct xg_kvm_vcpu *v;
	struct kvm_sregs s;
	struct kvm_regs r = {0};
	int xsave = want_xsave(vm);

	*out = NULL;
	v = xg_kvm_vcpu_new(vm, index, err);
	if (!v)
		return -1;
	v->xcr0 = XFEATURE_X87;
	v->vendor = vm->vendor;
	if (set_cpuid(v, err))
		goto fail;
	if (xg_kvm_get_sregs(v, &s, err))
		goto fail;
	if (vm->mode == XG_KVM_LONG) {
		sregs_long(&s, xsave);
		r.rip = entry;
		r.rsp = vm->mem_size;
	} else if (sregs_real(&s, &r, entry, err)) {
		goto fail;
	}
	r.rflags = 0x2; /* bit 1 is reserved and reads as 1 (SDM Vol. 1 3.4.3) */
	if (xg_kvm_set_sregs(v, &s, err)) {
		/* A KVM that checks CR4 against a guest CPUID without XSAVE refuses OSXSAVE
		 * (SDM Vol. 3A 2.5: CR4.OSXSAVE needs CPUID.1:ECX.XSAVE); run without it. */
		if (!(s.cr4 & CR4_OSXSAVE))
			goto fail;
		s.cr4 &= ~CR4_OSXSAVE;
		if (xg_kvm_set_sregs(v, &s, err))
			goto fail;
		xsave = 0;
		v->flags |= XG_KVM_VCPU_NO_XSAVE;
	}
	if (xsave && set_xcr0(v, err))
		goto fail;
	if (xg_kvm_set_regs(v, &r, err))
		goto fail;
	if (xg_kvm_ops_init(v, err))
		goto fail;

	v->next = vm->vcpus;
	vm->vcpus = v;
	*out = v;
	return 0;
fail:
	xg_kvm_vcpu_free(v);
	return -1;
}

/*
 * Registers written through kvm_run (xg_kvm_put_regs): KVM_RUN applies them (api.rst 5
 * "kvm_run", kvm_dirty_regs). Until then KVM's own registers are the old ones, so an ioctl
 * that reads them, or whose effect KVM_SET_REGS could undo, must come after a KVM_SET_REGS
 * of the copy, as it did when every write was an ioctl: KVM_SET_REGS drops a pending
 * exception (arch/x86/kvm/x86.c __set_regs(), which sync_regs() calls too), so
 * KVM_SET/GET_VCPU_EVENTS must not come between; KVM_SET_GUEST_DEBUG rewrites RFLAGS. Any
 * ioctl not known to touch other state only is taken to depend on them. Those that do
 * (XSAVE, XCRs, reading sregs) need no such order, and KVM_SET_REGS replaces the copy
 * (xg_kvm_set_regs).
 */
static int independent(unsigned long req)
{
	return req == KVM_GET_XSAVE || req == KVM_GET_XSAVE2 || req == KVM_SET_XSAVE ||
	       req == KVM_GET_SREGS || req == KVM_GET_XCRS || req == KVM_SET_REGS;
}

int xg_kvm_vcpu_commit_regs(struct xg_kvm_vcpu *v, struct xg_error *err)
{
	struct kvm_run *run = v->run;

	if (!run || !(run->kvm_dirty_regs & KVM_SYNC_X86_REGS))
		return 0;
	v->counts.set_regs++;
	if (ioctl(v->fd, KVM_SET_REGS, &run->s.regs.regs) < 0)
		return xg_kvm_fail(err, "KVM_SET_REGS of the registers kept in kvm_run (vCPU %d): %s",
				   v->index, strerror(errno));
	run->kvm_dirty_regs &= ~KVM_SYNC_X86_REGS;
	v->regs_put_all = 0;
	return 0;
}

/*
 * KVM_RUN applies registers left in kvm_run (kvm_dirty_regs) before anything else, then
 * clears their bits (arch/x86/kvm/x86.c sync_regs()). A KVM_RUN that returns before that
 * (a vCPU not yet started by INIT/SIPI, a kvm_run field KVM refuses) still stores the
 * vCPU's own registers over the copy on its way out (store_regs()), the bits still set: the
 * writes would be lost, so they are put back for the next KVM_RUN. What it stores over them
 * is what the copy held but for the registers a put changed: RIP and RFLAGS, and the GPRs
 * only when regs_put_all says so; only those are kept (bits exitgate never sets: all of
 * kvm_run's registers). regs_put_all is cleared before the ioctl, so that nothing after it
 * touches that line, and set again if the write is still waiting.
 */
XG_HOT int xg_kvm_arch_run_dirty(struct xg_kvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs *r = &run->s.regs.regs;
	__typeof__(run->s.regs) all;
	uint64_t rip = r->rip, rflags = r->rflags;
	int put_all = v->regs_put_all,
	    other = (run->kvm_dirty_regs & ~(uint64_t)KVM_SYNC_X86_REGS) != 0;
	int rc;

	if (__builtin_expect(other, 0))
		memcpy(&all, &run->s.regs, sizeof(all));
	else if (put_all)
		all.regs = *r;
	v->regs_put_all = 0;
	rc = ioctl(v->fd, KVM_RUN, 0) < 0 ? -errno : 0;
	if (__builtin_expect(!run->kvm_dirty_regs, 1))
		return rc;
	v->regs_put_all = put_all;
	if (other)
		memcpy(&run->s.regs, &all, sizeof(all));
	else if (put_all)
		*r = all.regs;
	else
		r->rip = rip, r->rflags = rflags;
	return rc;
}

XG_HOT int xg_kvm_arch_before_ioctl(struct xg_kvm_vcpu *v, unsigned long req, struct xg_error *err)
{
	struct xg_kvm_ioctl_counts *c = &v->counts;

	if (req == KVM_GET_REGS)
		c->get_regs++;
	else if (req == KVM_SET_REGS)
		c->set_regs++;
	else if (req == KVM_GET_SREGS)
		c->get_sregs++;
	else if (req == KVM_SET_SREGS)
		c->set_sregs++;
	else if (req == KVM_GET_XSAVE || req == KVM_GET_XSAVE2)
		c->get_xsave++;
	else if (req == KVM_SET_XSAVE)
		c->set_xsave++;
	else
		c->other++;
	if (v->run && v->run->kvm_dirty_regs && !independent(req))
		return xg_kvm_vcpu_commit_regs(v, err);
	return 0;
}

/* With registers waiting in kvm_run, those are the vCPU's (KVM_RUN will set them). */
int xg_kvm_get_regs(struct xg_kvm_vcpu *v, struct kvm_regs *r, struct xg_error *err)
{
	if (v->run && (v->run->kvm_dirty_regs & KVM_SYNC_X86_REGS)) {
		*r = v->run->s.regs.regs;
		return 0;
	}
	return xg_kvm_vcpu_ioctl(v, KVM_GET_REGS, "KVM_GET_REGS", r, err);
}

/* With sync regs the copy in kvm_run is what the ops read: keep it equal to what was set.
 * What waited there is replaced (KVM_SET_REGS sets every register kvm_regs holds). */
int xg_kvm_set_regs(struct xg_kvm_vcpu *v, const struct kvm_regs *r, struct xg_error *err)
{
	if (xg_kvm_vcpu_ioctl(v, KVM_SET_REGS, "KVM_SET_REGS", (void *)r, err))
		return -1;
	if (v->run)
		v->run->kvm_dirty_regs &= ~KVM_SYNC_X86_REGS;
	v->regs_put_all = 0;
	if (v->sync_regs)
		v->run->s.regs.regs = *r;
	return 0;
}

int xg_kvm_put_regs(struct xg_kvm_vcpu *v, const struct kvm_regs *r, struct xg_error *err)
{
	struct kvm_regs *d = xg_kvm_put_regs_in_place(v, 1);

	if (!d)
		return xg_kvm_set_regs(v, r, err);
	*d = *r;
	return 0;
}

int xg_kvm_get_sregs(struct xg_kvm_vcpu *v, struct kvm_sregs *s, struct xg_error *err)
{
	return xg_kvm_vcpu_ioctl(v, KVM_GET_SREGS, "KVM_GET_SREGS", s, err);
}

int xg_kvm_set_sregs(struct xg_kvm_vcpu *v, const struct kvm_sregs *s, struct xg_error *err)
{
	if (xg_kvm_vcpu_ioctl(v, KVM_SET_SREGS, "KVM_SET_SREGS", (void *)s, err))
		return -1;
	if (v->sync_regs)
		v->run->s.regs.sregs = *s;
	return 0;
}

/* XCR0's entry in x (api.rst 4.43: entries by XCR number), or NULL */
static const struct kvm_xcr *xcr0_in(const struct kvm_xcrs *x)
{
	for (uint32_t i = 0; i < x->nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (x->xcrs[i].xcr == 0)
			return &x->xcrs[i];
	return NULL;
}

/* The vCPU's copy of XCR0 (the emulator's, through get_x86_regs) follows what KVM says and
 * what is set: the guest's XSETBV does not exit, so these ioctls are when it can be known. */
int xg_kvm_get_xcrs(struct xg_kvm_vcpu *v, struct kvm_xcrs *x, struct xg_error *err)
{
	int rc = xg_kvm_vcpu_ioctl(v, KVM_GET_XCRS, "KVM_GET_XCRS", x, err);
	const struct kvm_xcr *e = rc ? NULL : xcr0_in(x);

	if (e)
		v->xcr0 = e->value;
	return rc;
}

int xg_kvm_set_xcrs(struct xg_kvm_vcpu *v, const struct kvm_xcrs *x, struct xg_error *err)
{
	int rc = xg_kvm_vcpu_ioctl(v, KVM_SET_XCRS, "KVM_SET_XCRS", (void *)x, err);
	const struct kvm_xcr *e = rc ? NULL : xcr0_in(x);

	if (e)
		v->xcr0 = e->value;
	return rc;
}

int xg_kvm_get_xcr0(struct xg_kvm_vcpu *v, uint64_t *val, struct xg_error *err)
{
	struct kvm_xcrs x;

	if (xg_kvm_get_xcrs(v, &x, err))
		return -EIO;
	if (!xcr0_in(&x))
		return -ENOENT;
	*val = v->xcr0;
	return 0;
}

size_t xg_kvm_xsave_size(struct xg_kvm_vcpu *v)
{
	return v->xsave_size;
}

/* KVM_GET_XSAVE2 writes xsave_size bytes, KVM_GET_XSAVE exactly 4096 (api.rst 4.42,
 * 4.134); KVM_SET_XSAVE reads xsave_size bytes either way. */
XG_HOT int xg_kvm_get_xsave(struct xg_kvm_vcpu *v, void *buf, size_t size, struct xg_error *err)
{
	if (size < v->xsave_size)
		return xg_kvm_fail(err,
				   "XSAVE buffer of %zu bytes is smaller than the %zu KVM writes",
				   size, v->xsave_size);
	/* counted here, and without KVM_SET_REGS first: independent() of waiting registers */
	v->counts.get_xsave++;
	if (v->has_xsave2)
		return xg_kvm_vcpu_ioctl_counted(v, KVM_GET_XSAVE2, "KVM_GET_XSAVE2", buf, err);
	return xg_kvm_vcpu_ioctl_counted(v, KVM_GET_XSAVE, "KVM_GET_XSAVE", buf, err);
}

XG_HOT int xg_kvm_set_xsave(struct xg_kvm_vcpu *v, const void *buf, size_t size,
			    struct xg_error *err)
{
	uint64_t bv;

	if (size < v->xsave_size)
		return xg_kvm_fail(err,
				   "XSAVE buffer of %zu bytes is smaller than the %zu KVM reads",
				   size, v->xsave_size);
	memcpy(&bv, (const uint8_t *)buf + XG_EMU_X86_XS_XSTATE_BV, 8); /* SDM Vol. 1 13.4.2 */
	v->counts.set_xstate_bv = bv;
	v->counts.set_xsave++; /* as in xg_kvm_get_xsave */
	return xg_kvm_vcpu_ioctl_counted(v, KVM_SET_XSAVE, "KVM_SET_XSAVE", (void *)buf, err);
}

