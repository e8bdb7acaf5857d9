/*
 * t_pmem_smoke.c - runs inside the private-memory lane's VM: the nested KVM really has
 * software-protected VMs, guest_memfd and memory attributes, and really produces the two
 * exits exitgate's private-memory work answers:
 *   - KVM_EXIT_MEMORY_FAULT (39): a real-mode guest stores to a page whose attributes say
 *     private, in a memslot with no guest_memfd: KVM_RUN fails EFAULT, flags PRIVATE, the
 *     page's gpa and size (api.rst 5, "KVM_EXIT_MEMORY_FAULT");
 *   - KVM_EXIT_HYPERCALL (3): after KVM_CAP_EXIT_HYPERCALL with bit 12, the guest's vmmcall
 *     with rax = KVM_HC_MAP_GPA_RANGE comes out with nr 12 and its gpa, npages and
 *     attributes (x86/hypercalls.rst 8), and the VMM's answer lands in the guest's rax.
 * Raw ioctls, no exitgate code: it proves the lane, exitgate's own tests build on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>

#include "kvm_pmem.h"
#include "tap.h"
#include "vm_util.h"

#define SLOT0_SIZE 0x10000ull /* guest_memfd-backed, starts shared: the code */
#define CODE_GPA   0x1000ull
#define PRIV_GPA   0x20000ull /* slot 1: no guest_memfd, made private */
#define MAP_GPA	   0x8000ull  /* the range the guest asks to make private */
#define PAGE	   0x1000ull

/*
 * Real mode, at 0000:1000:
 *	mov ax, 0x2000 ; mov ds, ax	 ds:0 = 0x20000
 *	mov byte [0], 0x55		 the private page: exit 39 until it is shared
 *	mov eax, 12			 KVM_HC_MAP_GPA_RANGE (rbx, rcx, rdx set by the host)
 *	vmmcall				 AMD: the nested kernel runs KVM_AMD
 *	hlt
 */
static const uint8_t guest_code[] = {
    0xb8, 0x00, 0x20, 0x8e, 0xd8, 0xc6, 0x06, 0x00, 0x00, 0x55,
    0x66, 0xb8, 0x0c, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xd9, 0xf4,
};

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * KVM_RUN with a time limit: a guest that never exits makes KVM_RUN fail EINTR after 30 s
 * (SIGALRM) and the test says so, instead of waiting for the lane's per-test timeout.
 */
static int kvm_run_once(int vcpu)
{
	int rc;

	alarm(30);
	rc = ioctl(vcpu, KVM_RUN, 0) < 0 ? -errno : 0;
	alarm(0);
	if (rc == -EINTR)
		diag("KVM_RUN did not return within 30 s (is tsc_early_khz on the command line?)");
	return rc;
}

/*
 * The real exit as exitgate sees it: kvm_run's header and exit union (288 bytes) saved to a
 * file and decoded by the static exitgate the lane put at /bin/exitgate; each of wants[] must
 * be in its output.
 */
static void decode_with_exitgate(const struct kvm_run *run, const char *name,
				 const char *const wants[])
{
	static char out[65536];
	char path[64];
	FILE *f;
	int st;

	snprintf(path, sizeof(path), "/tmp/%s.bin", name);
	f = fopen(path, "wb");
	if (!f || fwrite(run, 1, 288, f) != 288 || fclose(f)) {
		ok(0, "saving kvm_run to %s", path);
		return;
	}
	st = xg_vm_run_argv((char *const[]){"/bin/exitgate", "decode", path, NULL}, out,
			    sizeof(out));
	is_int(st, 0, "exitgate decode of the %s exit exits 0", name);
	for (; *wants; wants++)
		like(out, *wants, "exitgate decode shows '%s'", *wants);
}

int main(void)
{
	struct kvm_userspace_memory_region2 r0 = {0}, r1 = {0};
	struct kvm_create_guest_memfd cg = {.size = SLOT0_SIZE};
	struct kvm_memory_attributes ma = {0};
	struct kvm_enable_cap cap = {0};
	struct xg_vm_memory_fault *mf;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int kvm, vm, vcpu, gmem, rc, mmap_size;
	uint8_t *mem0, *mem1;
	long v;

	sigaction(SIGALRM, &(struct sigaction){.sa_handler = on_alarm}, NULL);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (!ok(kvm >= 0, "/dev/kvm opens (%s)", kvm < 0 ? strerror(errno) : "ok"))
		return done_testing();
	v = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	ok(v >= 0 && (v & (1 << KVM_X86_SW_PROTECTED_VM)),
	   "KVM_CAP_VM_TYPES = %#lx has bit 1 (SW_PROTECTED_VM)", v);
	v = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD);
	ok(v > 0, "KVM_CAP_GUEST_MEMFD = %ld", v);
	v = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES);
	ok(v >= 0 && (v & KVM_MEMORY_ATTRIBUTE_PRIVATE),
	   "KVM_CAP_MEMORY_ATTRIBUTES = %#lx has PRIVATE", v);
	v = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY2);
	ok(v > 0, "KVM_CAP_USER_MEMORY2 = %ld", v);
	v = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_FAULT_INFO);
	ok(v > 0, "KVM_CAP_MEMORY_FAULT_INFO = %ld", v);
	v = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);
	ok(v >= 0 && (v & (1 << KVM_HC_MAP_GPA_RANGE)),
	   "KVM_CAP_EXIT_HYPERCALL = %#lx has bit 12 (MAP_GPA_RANGE)", v);

	vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (!ok(vm >= 0, "KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM) (%s)",
		vm < 0 ? strerror(errno) : "ok"))
		return done_testing();
	gmem = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &cg);
	if (!ok(gmem >= 0, "KVM_CREATE_GUEST_MEMFD of %#llx bytes (%s)", SLOT0_SIZE,
		gmem < 0 ? strerror(errno) : "ok"))
		return done_testing();

	mem0 = mmap(NULL, SLOT0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	mem1 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem0 == MAP_FAILED || mem1 == MAP_FAILED)
		bail("mmap: %s", strerror(errno));
	memcpy(mem0 + CODE_GPA, guest_code, sizeof(guest_code));
	r0 = (struct kvm_userspace_memory_region2){
	    .slot = 0,
	    .flags = KVM_MEM_GUEST_MEMFD,
	    .guest_phys_addr = 0,
	    .memory_size = SLOT0_SIZE,
	    .userspace_addr = (uintptr_t)mem0,
	    .guest_memfd = gmem,
	    .guest_memfd_offset = 0,
	};
	rc = ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &r0);
	ok(rc == 0, "KVM_SET_USER_MEMORY_REGION2: slot 0 with the guest_memfd (%s)",
	   rc ? strerror(errno) : "ok");
	r1 = (struct kvm_userspace_memory_region2){
	    .slot = 1,
	    .guest_phys_addr = PRIV_GPA,
	    .memory_size = PAGE,
	    .userspace_addr = (uintptr_t)mem1,
	};
	rc = ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &r1);
	ok(rc == 0, "KVM_SET_USER_MEMORY_REGION2: slot 1 without guest_memfd (%s)",
	   rc ? strerror(errno) : "ok");
	ma = (struct kvm_memory_attributes){
	    .address = PRIV_GPA, .size = PAGE, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE};
	rc = ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &ma);
	ok(rc == 0, "KVM_SET_MEMORY_ATTRIBUTES: %#llx private (%s)", PRIV_GPA,
	   rc ? strerror(errno) : "ok");
	cap.cap = KVM_CAP_EXIT_HYPERCALL;
	cap.args[0] = 1ull << KVM_HC_MAP_GPA_RANGE;
	rc = ioctl(vm, KVM_ENABLE_CAP, &cap);
	ok(rc == 0, "KVM_ENABLE_CAP(EXIT_HYPERCALL, MAP_GPA_RANGE) (%s)",
	   rc ? strerror(errno) : "ok");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || mmap_size <= 0)
		bail("KVM_CREATE_VCPU: %s", strerror(errno));
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		bail("mmap kvm_run: %s", strerror(errno));
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		bail("KVM_GET_SREGS: %s", strerror(errno));
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		bail("KVM_SET_SREGS: %s", strerror(errno));
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 2;
	regs.rbx = MAP_GPA;			/* a0: gpa */
	regs.rcx = 1;				/* a1: npages */
	regs.rdx = KVM_MAP_GPA_RANGE_ENCRYPTED; /* a2: to private, 4K */
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		bail("KVM_SET_REGS: %s", strerror(errno));

	/* 1. The store to the private page of a slot without guest_memfd. */
	rc = kvm_run_once(vcpu);
	is_int(rc, -EFAULT, "KVM_RUN fails EFAULT on the private access");
	is_int(run->exit_reason, KVM_EXIT_MEMORY_FAULT, "exit reason 39 (KVM_EXIT_MEMORY_FAULT)");
	mf = (struct xg_vm_memory_fault *)&run->hw;
	is_hex(mf->flags, KVM_MEMORY_EXIT_FLAG_PRIVATE, "memory_fault.flags = PRIVATE");
	is_hex(mf->gpa, PRIV_GPA, "memory_fault.gpa = the page");
	is_hex(mf->size, PAGE, "memory_fault.size = one page");
	decode_with_exitgate(run, "memory_fault",
			     (const char *const[]){"reason:                          memory_fault",
						   "flags:                           0x8 (private)",
						   "gpa:                             0x20000",
						   "size:                            0x1000",
						   NULL});

	/* The VMM answers by making the page shared; the store then completes. */
	ma.attributes = 0;
	rc = ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &ma);
	ok(rc == 0, "KVM_SET_MEMORY_ATTRIBUTES: %#llx shared (%s)", PRIV_GPA,
	   rc ? strerror(errno) : "ok");

	/* 2. The guest's MAP_GPA_RANGE. */
	rc = kvm_run_once(vcpu);
	is_int(rc, 0, "KVM_RUN after the conversion");
	is_int(run->exit_reason, KVM_EXIT_HYPERCALL, "exit reason 3 (KVM_EXIT_HYPERCALL)");
	is_int(run->hypercall.nr, KVM_HC_MAP_GPA_RANGE, "hypercall.nr = 12 (MAP_GPA_RANGE)");
	is_hex(run->hypercall.args[0], MAP_GPA, "args[0] = gpa");
	is_int(run->hypercall.args[1], 1, "args[1] = npages");
	is_hex(run->hypercall.args[2], KVM_MAP_GPA_RANGE_ENCRYPTED, "args[2] = to private (0x10)");
	is_hex(run->hypercall.longmode & 1, 0, "flags bit 0 clear: the guest is in real mode");
	decode_with_exitgate(run, "hypercall",
			     (const char *const[]){"reason:                          hypercall",
						   "nr:                              12", NULL});
	is_int(mem1[0], 0x55, "the guest's store reached the now-shared page");

	/* The VMM's answer goes to the guest's rax; the guest then halts. */
	run->hypercall.ret = 0x1234;
	rc = kvm_run_once(vcpu);
	is_int(rc, 0, "KVM_RUN after the hypercall");
	is_int(run->exit_reason, KVM_EXIT_HLT, "exit reason 5 (HLT)");
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		bail("KVM_GET_REGS: %s", strerror(errno));
	is_hex(regs.rax, 0x1234, "the guest's rax = hypercall.ret");
	return done_testing();
}
