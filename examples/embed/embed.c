/*
 * embed.c - a minimal VMM loop with exitgate in it: the model to copy into your own VMM.
 *
 * A guest in long mode loads from a device (a GPA with no memslot) with x87 `flds` and AVX
 * `vmovdqu`, which KVM cannot emulate (KVM_EXIT_INTERNAL_ERROR/EMULATION, api.rst 5). The loop
 * handles port I/O, MMIO and HLT itself and gives every other exit to xg_handle_exit(), whose
 * `emulate` verdict runs exitgate's emulator through the vCPU ops below. The guest checks the
 * values with integer reads and reports with `out %al,$0x10`: 0 pass, 1 x87 or 2 AVX wrong.
 * Build: cc -O2 -o embed embed.c $(pkg-config --cflags --libs exitgate); run: ./embed [policy]
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include <exitgate.h>
#include <exitgate/xg_emu_x86.h> /* struct xg_emu_x86_regs, the XSAVE layout */

#define POLICY	 "../../policies/default.lua" /* the shipped one, from examples/embed */
#define RAM_SIZE 0x200000ULL		      /* 2 MiB at GPA 0 */
#define PML4	 0x1000ULL     /* then the PDPT at 0x2000 and four PDs at 0x3000..0x6fff */
#define CODE	 0x8000ULL     /* the guest; it stores what it loaded at 0x9000 */
#define DEV	 0xd0000000ULL /* the device: 64 bytes of registers, no memslot */

/* The guest: `gcc -c` and `objdump -d` of the assembly in the comments. */
static const char guest[] =
    "\xbb\x00\x00\x00\xd0"		   /* mov $0xd0000000,%ebx (the device) */
    "\xd9\x03\xd9\x1c\x25\x00\x90\x00\x00" /* flds (%rbx); fstps 0x9000 */
    "\xc5\xfe\x6f\x43\x20"		   /* vmovdqu 0x20(%rbx),%ymm0 */
    "\xc5\xfe\x7f\x04\x25\x20\x90\x00\x00" /* vmovdqu %ymm0,0x9020 */
    "\xb8\x01\x00\x00\x00\x8b\x13"	   /* mov $1,%eax; mov (%rbx),%edx */
    "\x39\x14\x25\x00\x90\x00\x00\x75\x1f" /* cmp %edx,0x9000; jne done */
    "\xb8\x02\x00\x00\x00\x31\xc9"	   /* mov $2,%eax; xor %ecx,%ecx */
    "\x48\x8b\x54\xcb\x20"		   /* 1: mov 0x20(%rbx,%rcx,8),%rdx */
    "\x48\x39\x14\xcd\x20\x90\x00\x00"	   /* cmp %rdx,0x9020(,%rcx,8) */
    "\x75\x09\xff\xc1\x83\xf9\x04\x75\xea" /* jne done; inc %ecx; cmp $4,%ecx; jne 1b */
    "\x31\xc0\xe6\x10\xf4";		   /* xor %eax,%eax; done: out %al,$0x10; hlt */

struct vmm {
	int vcpu;
	struct kvm_run *run;
	size_t run_size;      /* the kvm_run mapping: header, union, I/O data */
	unsigned long get_xs; /* KVM_GET_XSAVE2 where KVM has it, else KVM_GET_XSAVE */
	unsigned char *ram, *xsave, dev[64]; /* RAM, KVM's XSAVE image, our device's registers */
};

/* 0, or -errno of a failed ioctl: the convention of struct xg_vcpu_ops. */
static int io(struct vmm *m, unsigned long req, void *arg)
{
	return ioctl(m->vcpu, req, arg) < 0 ? -errno : 0;
}

/* The device serves exitgate's emulator and our own MMIO exits alike. -ENODEV where it is
 * not: exitgate then reads all-ones, as a floating bus does, and drops writes. */
static int mmio_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	if (gpa < DEV || gpa - DEV + len > sizeof(((struct vmm *)o)->dev))
		return -ENODEV;
	memcpy(buf, ((struct vmm *)o)->dev + (gpa - DEV), len);
	return 0;
}

static int mmio_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	if (gpa < DEV || gpa - DEV + len > sizeof(((struct vmm *)o)->dev))
		return -ENODEV;
	memcpy(((struct vmm *)o)->dev + (gpa - DEV), buf, len);
	return 0;
}

/* Guest RAM in our memory, NULL where it is not: the optional ram_ptr op (page walks and RAM
 * reads skip a copy; read_gpa, write_gpa agree). ops.ram_gen stays 0: our RAM never moves. */
static const void *ram_ptr(void *o, uint64_t gpa, size_t len)
{
	return gpa < RAM_SIZE && len <= RAM_SIZE - gpa ? ((struct vmm *)o)->ram + gpa : NULL;
}

static int read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	const void *p = ram_ptr(o, gpa, len);
	return p ? (memcpy(buf, p, len), 0) : -EFAULT; /* RAM only, says the ops contract */
}

static int write_gpa(void *o, uint64_t gpa, const void *buf, size_t len)
{
	void *p = (void *)ram_ptr(o, gpa, len);
	return p ? (memcpy(p, buf, len), 0) : -EFAULT;
}

/* Registers by name: the 18 words of struct kvm_regs, then 6 in a row in kvm_sregs. */
static const char *const reg_names[24] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi",	 "rsp", "rbp", "r8",  "r9",  "r10", "r11",
    "r12", "r13", "r14", "r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4", "cr8", "efer"};

static int reg(struct vmm *m, const char *name, uint64_t *val, int set)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	int i = 0;

	while (i < 24 && strcmp(name, reg_names[i]))
		i++;
	int sr = i >= 18,
	    rc = i == 24 ? -ENOENT : io(m, sr ? KVM_GET_SREGS : KVM_GET_REGS, sr ? (void *)&s : &r);
	__u64 *p = sr ? &s.cr0 + (i - 18) : (__u64 *)&r + i;
	if (rc || !set)
		return rc ? rc : (*val = *p, 0);
	*p = *val;
	return io(m, sr ? KVM_SET_SREGS : KVM_SET_REGS, sr ? (void *)&s : &r);
}

static int get_reg(void *o, const char *name, uint64_t *val)
{
	return reg(o, name, val, 0);
}

static int set_reg(void *o, const char *name, uint64_t val)
{
	return reg(o, name, &val, 1);
}

/* exitgate's emulator numbers GPRs and segments in encoding order; kvm_gpr[] maps GPRs. */
static const int kvm_gpr[16] = {0, 2, 3, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};

static int get_x86_regs(void *o, struct xg_emu_x86_regs *x)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_xcrs xc;
	const struct kvm_segment *seg[XG_EMU_X86_NSEG] = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs};
	int rc = io(o, KVM_GET_REGS, &r);

	if (rc || (rc = io(o, KVM_GET_SREGS, &s)) || (rc = io(o, KVM_GET_XCRS, &xc)))
		return rc;
	for (int i = 0; i < 16; i++)
		x->gpr[i] = ((__u64 *)&r)[kvm_gpr[i]];
	for (int i = 0; i < XG_EMU_X86_NSEG; i++) /* laid out as kvm_segment (xg_emu_x86.h) */
		memcpy(&x->seg[i], seg[i], sizeof(x->seg[i]));
	x->rip = r.rip, x->rflags = r.rflags;
	x->cr0 = s.cr0, x->cr2 = s.cr2, x->cr3 = s.cr3, x->cr4 = s.cr4, x->efer = s.efer;
	x->xcr0 = xc.xcrs[0].value; /* KVM_GET_XCRS: xcrs[0] is XCR0 (api.rst 4.43) */
	return 0;
}

static int set_x86_regs(void *o, const struct xg_emu_x86_regs *x) /* GPRs, RIP, RFLAGS */
{
	struct kvm_regs r = {.rip = x->rip, .rflags = x->rflags};

	for (int i = 0; i < 16; i++)
		((__u64 *)&r)[kvm_gpr[i]] = x->gpr[i];
	return io(o, KVM_SET_REGS, &r);
}

/* KVM's XSAVE image is the standard, non-compacted layout already (api.rst 4.42
 * KVM_GET_XSAVE): exitgate's view is its first XG_EMU_X86_XSAVE_SIZE bytes. */
static int get_xsave(void *o, void *buf)
{
	int rc = io(o, ((struct vmm *)o)->get_xs, ((struct vmm *)o)->xsave);

	return rc ? rc : (memcpy(buf, ((struct vmm *)o)->xsave, XG_EMU_X86_XSAVE_SIZE), 0);
}

static int set_xsave(void *o, const void *buf)
{
	int rc = io(o, ((struct vmm *)o)->get_xs, ((struct vmm *)o)->xsave); /* keep the rest */

	if (!rc)
		memcpy(((struct vmm *)o)->xsave, buf, XG_EMU_X86_XSAVE_SIZE);
	return rc ? rc : io(o, KVM_SET_XSAVE, ((struct vmm *)o)->xsave);
}

/* An exception for the guest, at the next KVM_RUN (api.rst 4.31); see core/backend/kvm/fault.c
 * for what more it takes after IO/MMIO/MSR exits, which this VMM keeps from the engine. */
static int inject_exception(void *o, unsigned vector, int has_error_code, uint32_t error_code)
{
	struct kvm_vcpu_events ev;
	int rc = io(o, KVM_GET_VCPU_EVENTS, &ev);

	ev.exception.injected = 1, ev.exception.nr = (uint8_t)vector;
	ev.exception.has_error_code = has_error_code != 0, ev.exception.error_code = error_code;
	return rc ? rc : io(o, KVM_SET_VCPU_EVENTS, &ev);
}

/* The answer to an RDMSR/WRMSR exit goes into kvm_run (api.rst 5 KVM_EXIT_X86_RDMSR). */
static int msr_reply(void *o, int error, uint64_t value)
{
	((struct vmm *)o)->run->msr.error = error != 0;
	((struct vmm *)o)->run->msr.data = value;
	return 0;
}

/* The ops exitgate may use on our vCPU; no .emulate, so `emulate` is exitgate's emulator. */
/* clang-format off */
static const struct xg_vcpu_ops ops = {
	.get_reg = get_reg, .set_reg = set_reg, .read_gpa = read_gpa, .write_gpa = write_gpa,
	.inject_exception = inject_exception, .msr_reply = msr_reply, .mmio_read = mmio_read,
	.mmio_write = mmio_write, .get_x86_regs = get_x86_regs, .set_x86_regs = set_x86_regs,
	.get_xsave = get_xsave, .set_xsave = set_xsave, .ram_ptr = ram_ptr, .ram_gen = (const uint64_t[]){0},
	.flags = XG_OPS_NO_AVX512_STATE, /* KVM_GET_XSAVE drops AVX-512 state on some hosts */
};
/* clang-format on */

int main(int argc, char **argv)
{
	struct vmm m = {.dev = {0xdb, 0x0f, 0x49, 0x40}}; /* register 0: 3.14159274f */
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, n, result = -1;
	struct kvm_enable_cap cap = {.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = {1}};
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(cpuid->entries[0]));
	struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 7}}}; /* x87 SSE AVX */
	struct kvm_regs regs = {.rip = CODE, .rsp = RAM_SIZE, .rflags = 2};
	struct kvm_sregs s;
	struct xg_error e;
	struct xg_stats st;

	memcpy(m.dev + 32, "32 bytes of AVX data from a dev", 32); /* registers 0x20..0x3f */
	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		err(2, "/dev/kvm");
	m.ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region slot = {0, 0, 0, RAM_SIZE, (uintptr_t)m.ram};
	if (m.ram == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		err(2, "guest RAM");
	/* Identity map of 4 GiB in 2 MiB pages (SDM Vol. 3A 4.5): RAM and device alike. */
	uint64_t *pml4 = (uint64_t *)(m.ram + PML4), *pdpt = pml4 + 512, *pd = pml4 + 1024;
	pml4[0] = (PML4 + 0x1000) | 3; /* present, writable */
	for (uint64_t i = 0; i < 4 * 512; i++) {
		pdpt[i / 512] = (PML4 + 0x2000 + i / 512 * 0x1000) | 3;
		pd[i] = i << 21 | 0x83; /* present, writable, 2 MiB page */
	}
	memcpy(m.ram + CODE, guest, sizeof(guest));
	if (ioctl(vm, KVM_ENABLE_CAP, &cap) < 0) /* or KVM injects #UD where it cannot emulate */
		err(2, "KVM_ENABLE_CAP(KVM_CAP_EXIT_ON_EMULATION_FAILURE)");
	/* KVM_SET_XSAVE reads KVM_CAP_XSAVE2 bytes where that cap exists (api.rst 4.43). */
	n = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	m.get_xs = n > 0 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	m.xsave = calloc(1, n > 4096 ? (size_t)n : 4096);
	if ((m.vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		err(2, "KVM_CREATE_VCPU");
	m.run_size = (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	m.run = mmap(NULL, m.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, m.vcpu, 0);
	/* CPUID first: KVM checks CR4.OSXSAVE and XCR0 against it. */
	cpuid->nent = 256;
	if (m.run == MAP_FAILED || ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0 ||
	    io(&m, KVM_SET_CPUID2, cpuid) || io(&m, KVM_GET_SREGS, &s))
		err(2, "vCPU setup");
	free(cpuid);
	s.cs = (struct kvm_segment){
	    .limit = ~0u, .selector = 8, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1};
	s.ds = s.es = s.fs = s.gs = s.ss = (struct kvm_segment){
	    .limit = ~0u, .selector = 16, .type = 3, .present = 1, .s = 1, .db = 1, .g = 1};
	s.tr = (struct kvm_segment){.limit = 0x67, .type = 11, .present = 1}; /* a busy TSS */
	s.cr0 = 0x80050033; /* PG AM WP NE ET MP PE (SDM Vol. 3A 2.5) */
	s.cr3 = PML4;
	s.cr4 = 0x40620; /* OSXSAVE OSXMMEXCPT OSFXSR PAE */
	s.efer = 0x500;	 /* LMA LME */
	if (io(&m, KVM_SET_SREGS, &s) || io(&m, KVM_SET_XCRS, &xcrs) || io(&m, KVM_SET_REGS, &regs))
		err(2, "KVM_SET_SREGS, KVM_SET_XCRS, KVM_SET_REGS");
	/* One engine per VMM; each vCPU thread attaches itself with its ops. */
	xg_config *cfg = xg_config_for_policy(argc > 1 ? argv[1] : POLICY, &e);
	xg_engine *eng = cfg ? xg_engine_new(cfg, &e) : NULL;
	xg_vcpu *xv = eng ? xg_vcpu_attach(eng, "default", 0, &ops, &m, &e) : NULL;
	if (!xv)
		errx(2, "%s", e.msg);
	for (;;) {
		int rc = ioctl(m.vcpu, KVM_RUN, 0) < 0 ? errno : 0;
		struct kvm_run *r = m.run;
		struct xg_result res;

		if (!rc && r->exit_reason == KVM_EXIT_HLT)
			break;
		if (!rc && r->exit_reason == KVM_EXIT_IO) { /* our own exits first: port I/O */
			if (r->io.port == 0x10 && r->io.direction == KVM_EXIT_IO_OUT)
				result = *((unsigned char *)r + r->io.data_offset);
		} else if (!rc && r->exit_reason == KVM_EXIT_MMIO) { /* KVM_RUN completes it */
			if (r->mmio.is_write)
				mmio_write(&m, r->mmio.phys_addr, r->mmio.data, r->mmio.len);
			else if (mmio_read(&m, r->mmio.phys_addr, r->mmio.data, r->mmio.len))
				memset(r->mmio.data, 0xff, sizeof(r->mmio.data)); /* no device */
		} else if ((res = xg_handle_exit(xv, r, m.run_size, rc)).next != XG_NEXT_RUN) {
			/* The policy said stop or pause (a VMM parks the vCPU): we stop. */
			warnx("exit %u: %s", r->exit_reason,
			      res.next == XG_NEXT_ERROR ? xg_vcpu_last_error(xv) : "stopped");
			break;
		}
	}
	xg_vcpu_stats(xv, &st);
	printf("guest result %d (%s); exitgate handled %llu exits, emulated %llu\n", result,
	       result ? "FAIL" : "pass", (unsigned long long)st.exits,
	       (unsigned long long)st.verdicts[XG_VERDICT_EMULATE]);
	xg_vcpu_detach(xv);
	xg_engine_free(eng);
	xg_config_free(cfg);
	free(m.xsave);
	return result ? 1 : 0;
}
