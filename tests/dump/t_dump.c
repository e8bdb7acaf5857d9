/*
 * t_dump.c - the triage dump (core/dump/dump.h), written through a fake VMM whose guest RAM
 * is a buffer, and read back with a real JSON parser (perl's JSON::PP, which rejects what
 * RFC 8259 rejects, invalid UTF-8 included).
 *
 * The fake guest runs once without paging (32-bit flat protected mode, a CS base to apply)
 * and once in 64-bit mode on 4-level page tables built in its RAM, with pages mapped out of
 * order so that a read crossing a page only comes out right through the walk. One page maps
 * to a device address: the dump must never read it.
 */
#define _GNU_SOURCE /* nftw */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump/dump.h"
#include "exitgate.h"
#include "tap.h"
#include "xg_emu_x86.h"

/* ---- the fake VMM ----------------------------------------------------------------------- */

#define RAM_SIZE    0x20000
#define DEVICE_GPA  0xd0000000ull /* an MMIO device: not RAM */
#define ARM_VA_BASE 0xffff000000000000ull

struct fake {
	uint8_t ram[RAM_SIZE];
	struct xg_emu_x86_regs regs;
	int regs_rc;	  /* what get_x86_regs returns (0, or a negative errno) */
	int device_reads; /* must stay 0: a dump never touches a device */
	uint64_t x[31], pc, sp, pstate;
};

static int f_read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct fake *f = o;

	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return -EFAULT; /* exitgate.h: not RAM (a device, or nothing) */
	memcpy(buf, f->ram + gpa, len);
	return 0;
}

static int f_mmio_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct fake *f = o;

	f->device_reads++;
	memset(buf, 0xff, len);
	return 0;
}

static int f_get_x86_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct fake *f = o;

	if (f->regs_rc)
		return f->regs_rc;
	*r = f->regs;
	return 0;
}

/* Names as exitgate.h gives them: x86 from the same state, arm64 from its own. */
static int f_get_reg(void *o, const char *n, uint64_t *v)
{
	static const char *const gpr[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
	struct fake *f = o;

	for (int i = 0; i < 16; i++)
		if (!strcmp(n, gpr[i])) {
			*v = f->regs.gpr[i];
			return 0;
		}
	if (!strcmp(n, "rip"))
		*v = f->regs.rip;
	else if (!strcmp(n, "rflags"))
		*v = f->regs.rflags;
	else if (!strcmp(n, "cr0"))
		*v = f->regs.cr0;
	else if (!strcmp(n, "cr3"))
		*v = f->regs.cr3;
	else if (!strcmp(n, "pc"))
		*v = f->pc;
	else if (!strcmp(n, "sp"))
		*v = f->sp;
	else if (!strcmp(n, "pstate"))
		*v = f->pstate;
	else if (n[0] == 'x' && atoi(n + 1) >= 0 && atoi(n + 1) <= 30)
		*v = f->x[atoi(n + 1)];
	else
		return -ENOENT;
	return 0;
}

/* The VMM's own translation, for VMMs without get_x86_regs: a fixed offset map. */
static int f_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	if (gva < ARM_VA_BASE || gva - ARM_VA_BASE >= RAM_SIZE)
		return -EFAULT;
	*gpa = gva - ARM_VA_BASE;
	return 0;
}

static const struct xg_vcpu_ops full_ops = {
    .read_gpa = f_read_gpa,
    .mmio_read = f_mmio_read,
    .get_x86_regs = f_get_x86_regs,
    .get_reg = f_get_reg,
};

static const struct xg_vcpu_ops named_ops = {
    .read_gpa = f_read_gpa,
    .mmio_read = f_mmio_read,
    .get_reg = f_get_reg,
    .translate_gva = f_translate,
};

/*
 * Root passes a directory's permission bits by CAP_DAC_OVERRIDE (capabilities(7)): this
 * thread's effective set without it (on = 0) and with it again (on = 1), the permitted set
 * untouched, through the raw capget/capset calls (no libcap). 0, or -1 when it cannot.
 */
static int dac_override(int on)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[CAP_TO_INDEX(CAP_DAC_OVERRIDE)].effective |= CAP_TO_MASK(CAP_DAC_OVERRIDE);
	else
		d[CAP_TO_INDEX(CAP_DAC_OVERRIDE)].effective &= ~CAP_TO_MASK(CAP_DAC_OVERRIDE);
	return syscall(SYS_capset, &h, d) ? -1 : 0;
}

static void put64(struct fake *f, uint64_t gpa, uint64_t v)
{
	memcpy(f->ram + gpa, &v, 8);
}

static struct xg_emu_x86_segment flat(uint16_t sel, uint8_t type, int l, int db)
{
	struct xg_emu_x86_segment s = {.base = 0,
				       .limit = 0xffffffff,
				       .selector = sel,
				       .type = type,
				       .s = 1,
				       .dpl = 0,
				       .present = 1,
				       .db = (uint8_t)db,
				       .l = (uint8_t)l,
				       .g = 1};
	return s;
}

/* fld dword ptr [rax]; movabs rax, 0xd0000000; hlt */
static const uint8_t guest_code[] = {0xd9, 0x00, 0x48, 0xb8, 0x00, 0x00, 0x00,
				     0xd0, 0x00, 0x00, 0x00, 0x00, 0xf4};

/*
 * 64-bit mode, 4-level paging (SDM Vol. 3A 4.5): CR3 = 0x10000, one PML4E and PDPTE, and
 *   VA 0x400000 -> PA 0x5000, VA 0x401000 -> PA 0x2000 (out of order on purpose),
 *   VA 0x402000 -> the device at DEVICE_GPA, VA 0x600000 -> PA 0x6000 (the stack),
 *   VA 0x3ff000, 0x601000 and 0x800000 not mapped.
 * RIP 0x401010, so the 32 bytes before it straddle the first two pages.
 */
static void guest_paged(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	put64(f, 0x10000, 0x11000 | 3);		/* PML4[0] */
	put64(f, 0x11000, 0x12000 | 3);		/* PDPT[0] */
	put64(f, 0x12000 + 2 * 8, 0x13000 | 3); /* PD[2]: 0x400000 */
	put64(f, 0x12000 + 3 * 8, 0x14000 | 3); /* PD[3]: 0x600000 */
	put64(f, 0x13000 + 0 * 8, 0x5000 | 3);
	put64(f, 0x13000 + 1 * 8, 0x2000 | 3);
	put64(f, 0x13000 + 2 * 8, DEVICE_GPA | 3);
	put64(f, 0x14000 + 0 * 8, 0x6000 | 3);
	for (int i = 0; i < 0x1000; i++) {
		f->ram[0x5000 + i] = (uint8_t)(0xa0 + i);
		f->ram[0x2000 + i] = 0x90; /* nop */
		f->ram[0x6000 + i] = (uint8_t)(i * 7);
	}
	for (int i = 0; i < 16; i++)
		f->ram[0x2000 + i] = (uint8_t)(0xb0 + i);
	memcpy(f->ram + 0x2010, guest_code, sizeof(guest_code));

	f->regs.rip = 0x401010;
	f->regs.gpr[XG_EMU_X86_RSP] = 0x600f80;
	f->regs.gpr[XG_EMU_X86_RAX] = 0xd0000000;
	f->regs.gpr[15] = 0xfedcba9876543210ull;
	f->regs.rflags = 0x2;
	f->regs.cr0 = 0x80050033;
	f->regs.cr3 = 0x10000;
	f->regs.cr4 = 0x20;
	f->regs.efer = 0x500; /* LME | LMA */
	for (int i = 0; i < XG_EMU_X86_NSEG; i++)
		f->regs.seg[i] = flat(0x10, 3, 0, 1);
	f->regs.seg[XG_EMU_X86_CS] = flat(0x8, 11, 1, 0);
}

/* 32-bit flat protected mode without paging (CR0.PG = 0: linear is physical), but CS with a
 * base of 0x800, so EIP 0x800 fetches from linear 0x1000 (SDM Vol. 3A 3.4). */
static void guest_flat32(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 0x100; i++)
		f->ram[0xf00 + i] = (uint8_t)i;
	memcpy(f->ram + 0x1000, guest_code, sizeof(guest_code));
	for (int i = 0; i < 128; i++)
		f->ram[0x8000 + i] = (uint8_t)(0x40 + i);
	f->regs.rip = 0x800;
	f->regs.gpr[XG_EMU_X86_RSP] = 0x8000;
	f->regs.rflags = 0x2;
	f->regs.cr0 = 0x11; /* PE | ET */
	for (int i = 0; i < XG_EMU_X86_NSEG; i++)
		f->regs.seg[i] = flat(0x10, 3, 0, 1);
	f->regs.seg[XG_EMU_X86_CS] = flat(0x8, 11, 0, 1);
	f->regs.seg[XG_EMU_X86_CS].base = 0x800;
}

/* An emulation failure with instruction bytes, as KVM writes it (api.rst 5,
 * KVM_INTERNAL_ERROR_EMULATION: flags, then insn_size and 15 bytes, in data[]). */
static void emul_exit(struct xg_exit *x, const uint8_t *insn, size_t n)
{
	_Alignas(8) uint8_t buf[4096] = {0};
	struct kvm_run *run = (struct kvm_run *)buf;
	struct xg_exit_opts opts = {XG_ARCH_X86_64, XG_HW_VMX};
	struct xg_error err;

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->emulation_failure.ndata = 3;
	run->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	run->emulation_failure.insn_size = (uint8_t)n;
	memcpy(run->emulation_failure.insn_bytes, insn, n);
	if (xg_exit_decode(x, buf, sizeof(buf), &opts, &err))
		bail("xg_exit_decode: %s", err.msg);
}

/* ---- reading a dump back ---------------------------------------------------------------- */

static char tmpdir[64];

/* Evaluate a perl expression over the decoded dump ($d) and return what it prints: "(null)"
 * for JSON null, JSON text for objects and arrays. -1 when perl fails (the file does not
 * parse, or the expression dies); out then holds perl's message. No shell in between: the
 * expression and the path go to perl as they are. */
static int perl_get(const char *file, const char *expr, char *out, size_t n)
{
	static const char script[] =
	    "use strict; use warnings; use JSON::PP;"
	    "binmode STDOUT, ':encoding(UTF-8)';"
	    "open my $fh, '<:raw', $ARGV[0] or die \"open $ARGV[0]: $!\\n\";"
	    "my $t = do { local $/; <$fh> };"
	    "my $d = JSON::PP->new->utf8->decode($t);"
	    "my $v = eval $ARGV[1]; die $@ if $@;"
	    "print !defined $v ? '(null)' : ref $v ? JSON::PP->new->canonical->encode($v) : $v;";
	int fds[2], status;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	out[0] = 0;
	if (pipe(fds))
		bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execlp("perl", "perl", "-e", script, file, expr, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got + 1 < n && (r = read(fds[0], out + got, n - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* is_str on a perl expression over the dump. */
static void field_is(const char *file, const char *expr, const char *want, const char *name)
{
	char out[8192];

	if (perl_get(file, expr, out, sizeof(out)))
		diag("perl: %s", out);
	is_str(out, want, "%s", name);
}

static void field_like(const char *file, const char *expr, const char *want, const char *name)
{
	char out[8192];

	if (perl_get(file, expr, out, sizeof(out)))
		diag("perl: %s", out);
	like(out, want, "%s", name);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

/* Names in dir, sorted, joined by spaces ("" when empty; "(none)" when dir is missing). */
static void listing(const char *dir, char *out, size_t n)
{
	struct dirent **ents;
	int count = scandir(dir, &ents, NULL, alphasort);
	size_t len = 0;

	snprintf(out, n, count < 0 ? "(none)" : "");
	for (int i = 0; i < count; i++) {
		const char *nm = ents[i]->d_name;
		if (strcmp(nm, ".") && strcmp(nm, ".."))
			len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s",
						len ? " " : "", nm);
		free(ents[i]);
	}
	if (count >= 0)
		free(ents);
}

#define RUN "20260101T000000.000001Z-42" /* a run identity, as xg_dump_run_id makes them */

static struct xg_dump_req req(const char *dir, const char *guest, const struct xg_exit *x,
			      const struct xg_vcpu_ops *ops, void *opaque)
{
	struct xg_dump_req r = {
	    .dir = dir,
	    .guest = guest,
	    .run = RUN,
	    .vcpu = 0,
	    .seq = 1,
	    .policy = "default.lua",
	    .handler = "default.lua:14",
	    .trigger = "policy",
	    .verdict = "inject",
	    .note = "fld on MMIO",
	    .error = NULL,
	    .x = x,
	    .ops = ops,
	    .opaque = opaque,
	};
	return r;
}

/* Write a dump that must succeed; its path in path. */
static int write_ok(const struct xg_dump_req *r, char *path, size_t n, const char *what)
{
	struct xg_error err = {""};
	int rc = xg_dump_write(r, path, n, &err);

	if (!is_int(rc, 0, "%s: xg_dump_write succeeds", what))
		diag("%s", err.msg);
	return rc == 0;
}

static char *subdir(const char *name)
{
	static char buf[4][256];
	static int k;
	char *p = buf[k++ % 4];

	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

/* ---- the tests -------------------------------------------------------------------------- */

static void test_paged(struct fake *f)
{
	char path[512], want[512], dir_list[512];
	uint8_t code[96];
	struct xg_exit x;
	const char *dir = subdir("paged");
	struct xg_dump_req r;

	guest_paged(f);
	emul_exit(&x, guest_code, 2);
	r = req(dir, "web", &x, &full_ops, f);
	r.vcpu = 2;
	r.seq = 42;
	if (!write_ok(&r, path, sizeof(path), "64-bit paged guest"))
		return;
	snprintf(want, sizeof(want), "%s/web-" RUN "-vcpu2-000042.json", dir);
	is_str(path, want, "the path is <dir>/<guest>-<run>-vcpu<N>-<seq, six digits>.json");
	ok(access(path, R_OK) == 0, "the file exists");
	listing(dir, dir_list, sizeof(dir_list));
	is_str(dir_list, "web-" RUN "-vcpu2-000042.json", "no temp file is left beside it");

	field_is(path, "1", "1", "the dump parses as JSON");
	field_is(path, "$d->{exitgate_dump}", "1", "exitgate_dump is 1");
	field_like(
	    path,
	    "$d->{time} =~ /^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$/ ? 'iso' : $d->{time}",
	    "iso", "time is ISO 8601 UTC");
	field_is(path, "$d->{guest}", "web", "guest");
	field_is(path, "$d->{vcpu}", "2", "vcpu");
	field_is(path, "$d->{seq}", "42", "seq");
	field_is(
	    path,
	    "join ',', map { $d->{$_} // 'null' } qw(trigger policy handler verdict note error)",
	    "policy,default.lua,default.lua:14,inject,fld on MMIO,null", "who and why");
	field_is(path, "$d->{exit}{kind}", "emulation_failure", "exit kind");
	field_is(path, "$d->{insn}{bytes}", "d900", "instruction bytes as the exit gave them");
	field_like(path, "$d->{insn}{disasm}", "fld", "instruction disassembled");
	field_is(path, "$d->{registers}{rip}", "0x401010", "registers: rip");
	field_is(path, "$d->{registers}{rsp}", "0x600f80", "registers: rsp");
	field_is(path, "$d->{registers}{r15}", "0xfedcba9876543210",
		 "registers: 64-bit values keep every bit");
	field_is(path, "$d->{registers}{cr0}", "0x80050033", "registers: cr0");
	field_is(path, "$d->{registers}{efer}", "0x500", "registers: efer");
	field_is(path, "join ',', @{$d->{registers}{cs}}{qw(selector base limit dpl l)}",
		 "0x8,0x0,0xffffffff,0,1", "registers: cs segment");

	/* VA 0x400ff0..0x400fff is PA 0x5ff0.., VA 0x401000.. is PA 0x2000.. */
	memcpy(code, f->ram + 0x5ff0, 16);
	memcpy(code + 16, f->ram + 0x2000, 80);
	hex(code, sizeof(code), want);
	field_is(path, "$d->{code}{bytes}", want,
		 "code: 32 bytes before and 64 from RIP, through the page tables");
	field_is(path, "$d->{code}{start}", "0x400ff0", "code: start");
	field_is(path, "$d->{code}{rip}", "0x401010", "code: rip");
	hex(guest_code, sizeof(guest_code), want);
	field_is(path, "substr($d->{code}{bytes}, 64, 26)", want,
		 "code: the bytes at RIP are the guest's");
	field_like(path, "$d->{code}{disasm}[0]", "0x401010: fld",
		   "code: disassembly starts at RIP");
	field_is(path, "$d->{code}{disasm}[1]", "0x401012: movabs rax, 0xd0000000",
		 "code: one line per instruction, with its address");
	field_is(path, "scalar @{$d->{code}{disasm}}", "8", "code: at most 8 instructions");
	hex(f->ram + 0x6f80, 128, want);
	field_is(path, "$d->{stack}{bytes}", want, "stack: 128 bytes at RSP");
	field_is(path, "$d->{stack}{rsp}", "0x600f80", "stack: rsp");
	is_int(f->device_reads, 0, "no device was read");

	/* Odd guest states are recorded, never fatal. */
	f->regs.rip = 0x400008;			/* the page before is not mapped */
	f->regs.gpr[XG_EMU_X86_RSP] = 0x600fc0; /* 64 bytes, then an unmapped page */
	r.seq = 43;
	if (write_ok(&r, path, sizeof(path), "RIP at the start of a mapped page")) {
		field_is(path, "$d->{code}{start}", "0x400000",
			 "code: only the bytes of RIP's page when the one before is not mapped");
		hex(f->ram + 0x5000, 64, want);
		field_is(path, "substr($d->{code}{bytes}, 0, 128)", want, "code: those bytes");
		field_is(path, "length $d->{stack}{bytes}", "128",
			 "stack: what is mapped (64 bytes)");
		field_like(path, "$d->{stack}{truncated}", "0x601000 is not mapped",
			   "stack: says where it stopped");
	}
	f->regs.rip = 0x800000;
	r.seq = 44;
	if (write_ok(&r, path, sizeof(path), "RIP not mapped")) {
		field_like(path, "$d->{code}{error}", "0x800000 is not mapped",
			   "code: error says why");
		field_is(path, "$d->{code}{rip}", "0x800000", "code: and where");
	}
	f->regs.rip = 0x402000;
	r.seq = 45;
	if (write_ok(&r, path, sizeof(path), "RIP on a device page")) {
		field_like(path, "$d->{code}{error}", "not guest RAM",
			   "code: a device page is not read");
		is_int(f->device_reads, 0, "no device was read");
	}
	f->regs_rc = -EIO;
	r.seq = 46;
	if (write_ok(&r, path, sizeof(path), "get_x86_regs fails")) {
		field_is(path, "$d->{registers}{note}", "get_x86_regs failed: Input/output error",
			 "registers: the failure is noted");
		field_is(path, "$d->{registers}{rip}", "0x402000", "registers: get_reg fills in");
		field_like(path, "$d->{registers}{unavailable}", "efer",
			   "registers: what get_reg could not give is listed");
	}
}

static void test_flat32(struct fake *f)
{
	char path[512], want[512];
	struct xg_exit x;
	struct xg_dump_req r;

	guest_flat32(f);
	emul_exit(&x, guest_code, 2);
	r = req(subdir("flat"), "db", &x, &full_ops, f);
	if (!write_ok(&r, path, sizeof(path), "32-bit guest without paging"))
		return;
	field_is(path, "$d->{registers}{cr0}", "0x11", "registers: cr0 without PG");
	hex(f->ram + 0xfe0, 96, want);
	field_is(path, "$d->{code}{bytes}", want, "code: linear = CS.base + EIP = physical");
	field_is(path, "$d->{code}{start}", "0x7e0", "code: start, in EIP terms");
	field_is(path, "$d->{code}{mode}", "32", "code: 32-bit code");
	field_like(path, "$d->{code}{disasm}[0]", "0x800: fld dword ptr [eax]",
		   "code: 32-bit code is disassembled as 32-bit code ([eax], not [rax])");
	field_like(path, "$d->{insn}{disasm}", "fld dword ptr [eax]",
		   "insn: disassembled as 32-bit code");
	field_is(path, "$d->{insn}{bytes}", "d900", "insn: bytes");
	hex(f->ram + 0x8000, 128, want);
	field_is(path, "$d->{stack}{bytes}", want, "stack: at SS.base + ESP");
}

static void test_nothing(void)
{
	char path[512];
	struct xg_dump_req r = req(subdir("bare"), "bare", NULL, NULL, NULL);

	r.policy = r.handler = r.note = NULL;
	r.error = "policy web.lua:12: attempt to index a nil value";
	r.trigger = "ctl";
	if (!write_ok(&r, path, sizeof(path), "no exit, no ops"))
		return;
	field_is(path, "1", "1", "a bare dump parses");
	field_is(path, "defined $d->{exit} ? 'set' : 'null'", "null", "exit is null");
	field_is(path, "defined $d->{insn} ? 'set' : 'null'", "null", "insn is null");
	field_is(path, "$d->{registers}{error}", "the VMM gives no register access",
		 "registers: error");
	field_like(path, "$d->{code}{error}", "no register access", "code: error");
	field_like(path, "$d->{stack}{error}", "no register access", "stack: error");
	field_is(path, "$d->{error}", r.error, "the on_error message");
	field_is(path, "defined $d->{policy} ? 'set' : 'null'", "null", "policy is null");
}

static void test_hostile(struct fake *f)
{
	/* Quotes, backslashes, control characters, DEL, and ill-formed UTF-8: a stray
	 * continuation-less lead byte, an overlong form, a surrogate; then good UTF-8. */
	static const char note[] = "q\"uote back\\slash nl\n tab\t ctl\x01\x1f del\x7f bad\xff"
				   " cut\xc3 overlong\xc0\xaf surrogate\xed\xa0\x80 ok \xc3\xa9"
				   "\xe2\x82\xac\xf0\x9f\x98\x80";
	static const char want[] =
	    "q\"uote back\\slash nl\n tab\t ctl\x01\x1f del\x7f bad\xef\xbf\xbd"
	    " cut\xef\xbf\xbd overlong\xef\xbf\xbd\xef\xbf\xbd"
	    " surrogate\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9"
	    "\xe2\x82\xac\xf0\x9f\x98\x80";
	char path[512], expect[512], list[512];
	struct xg_exit x;
	struct xg_dump_req r;
	FILE *in;
	int c, raw_ctl = 0;

	guest_paged(f);
	emul_exit(&x, guest_code, 2);
	r = req(subdir("hostile"), "web/../prod \"x\"", &x, &full_ops, f);
	r.note = note;
	r.handler = "h\"\\";
	r.error = "line1\nline2\r\x1b[31m";
	r.vcpu = 3;
	r.seq = 7;
	if (!write_ok(&r, path, sizeof(path), "hostile strings"))
		return;
	snprintf(expect, sizeof(expect), "%s/web_.._prod__x_-" RUN "-vcpu3-000007.json",
		 subdir("hostile"));
	is_str(path, expect, "a guest name with '/' and quotes is sanitized in the file name");
	field_is(path, "$d->{note}", want,
		 "note: escaped, ill-formed UTF-8 replaced by U+FFFD, good UTF-8 kept");
	field_is(path, "$d->{handler}", "h\"\\", "handler: quotes and backslashes");
	field_is(path, "$d->{error}", "line1\nline2\r\x1b[31m", "error: control characters");
	field_is(path, "$d->{guest}", "web/../prod \"x\"", "guest: the real name in the JSON");
	in = fopen(path, "rb");
	while (in && (c = fgetc(in)) != EOF)
		raw_ctl += (c < 0x20 && c != '\n') || c == 0x7f;
	if (in)
		fclose(in);
	is_int(raw_ctl, 0, "no raw control character in the file");

	r.guest = ".hidden";
	r.seq = 8;
	if (write_ok(&r, path, sizeof(path), "a guest name starting with '.'"))
		like(path, "/_hidden-" RUN "-vcpu3-000008.json",
		     "a leading '.' does not hide the dump");
	r.guest = NULL;
	r.seq = 9;
	if (write_ok(&r, path, sizeof(path), "no guest name"))
		like(path, "/guest-" RUN "-vcpu3-000009.json",
		     "a missing guest name still gives a file name");
	listing(subdir("hostile"), list, sizeof(list));
	is_str(list,
	       "_hidden-" RUN "-vcpu3-000008.json guest-" RUN
	       "-vcpu3-000009.json web_.._prod__x_-" RUN "-vcpu3-000007.json",
	       "only the dumps are in the directory");
}

/* Runs into one directory: names carry the run, nothing is overwritten, dead writers' temp
 * files are cleaned and live ones kept. */
static void test_runs(struct fake *f)
{
	char path[512], first[512], list[1024], id1[64], id2[64], tmp[600];
	const char *dir = subdir("runs");
	struct xg_error err = {""};
	struct xg_dump_req r;
	struct xg_exit x;
	struct stat st;
	pid_t dead;
	int n;

	guest_paged(f);
	emul_exit(&x, guest_code, 2);
	r = req(dir, "web", &x, &full_ops, f);
	if (!write_ok(&r, first, sizeof(first), "first run's dump"))
		return;
	r.note = "second";
	ok(xg_dump_write(&r, path, sizeof(path), &err) == -1 &&
	       strstr(err.msg, "is there already: not overwritten") != NULL,
	   "the same name again is refused, not overwritten: %s", err.msg);
	field_is(first, "$d->{note}", "fld on MMIO", "... and the first dump is intact");
	field_is(first, "$d->{run}", RUN, "the dump names its run");

	xg_dump_run_id(id1, sizeof(id1));
	xg_dump_run_id(id2, sizeof(id2));
	ok(strcmp(id1, id2) < 0, "run identities differ and sort by time (%s < %s)", id1, id2);
	like(id1, "Z-", "a run identity is UTC time, then the pid: %s", id1);
	r.run = id2;
	r.note = "fld on MMIO";
	ok(write_ok(&r, path, sizeof(path), "second run's dump") && strstr(path, id2),
	   "a second run's dump, same guest, vCPU and seq, gets its own name: %s", path);
	r.run = NULL;
	r.seq = 2;
	ok(write_ok(&r, path, sizeof(path), "no run given") && strstr(path, "Z-"),
	   "without a run, this process's identity: %s", path);

	/* temp files: a dead writer's, a live one's (ours), the old format, not ours */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	snprintf(tmp, sizeof(tmp), "echo x >%s/.web-R-vcpu0-000001.json.%d.tmp", dir, (int)dead);
	n = system(tmp);
	snprintf(tmp, sizeof(tmp), "echo x >%s/.web-R-vcpu0-000002.json.%d.tmp", dir,
		 (int)getpid());
	n |= system(tmp);
	snprintf(
	    tmp, sizeof(tmp),
	    "cd %s && echo x >.web-vcpu0-1.json.tmp && touch -d '1 hour ago' "
	    ".web-vcpu0-1.json.tmp && echo x >.web-vcpu0-2.json.tmp && echo x >.other.tmp && "
	    "echo x >.a.json.0.tmp && mkdir .d.json.%d.tmp && ln -s /nonexistent .l.json.%d.tmp",
	    dir, (int)dead, (int)dead);
	n |= system(tmp);
	ok(n == 0, "temp files planted");
	n = xg_dump_clean(dir, &err);
	is_int(n, 2, "two stale temp files removed (%s)", err.msg[0] ? err.msg : "no error");
	snprintf(tmp, sizeof(tmp), "%s/.web-R-vcpu0-000001.json.%d.tmp", dir, (int)dead);
	ok(stat(tmp, &st) != 0, "the dead writer's (pid %d) is gone", (int)dead);
	snprintf(tmp, sizeof(tmp), "%s/.web-R-vcpu0-000002.json.%d.tmp", dir, (int)getpid());
	ok(stat(tmp, &st) == 0, "a live writer's is kept");
	snprintf(tmp, sizeof(tmp), "%s/.web-vcpu0-1.json.tmp", dir);
	ok(stat(tmp, &st) != 0, "an old-format one, an hour old, is gone");
	listing(dir, list, sizeof(list));
	like(list, ".web-vcpu0-2.json.tmp", "a fresh old-format one is kept");
	ok(strstr(list, ".other.tmp") && strstr(list, ".a.json.0.tmp") &&
	       strstr(list, ".d.json.") && strstr(list, ".l.json."),
	   "pid 0, a directory and a symlink (named for the dead pid) and other names are kept: "
	   "%s",
	   list);
	is_int(xg_dump_clean(subdir("no-such-dir"), &err), 0, "a missing directory: nothing to do");
}

/* A VMM with get_reg and translate_gva only, and an arm64 guest. */
static void test_named(struct fake *f)
{
	/* ldr x0, [x1]; nop (A64, little-endian) */
	static const uint8_t a64[] = {0x20, 0x00, 0x40, 0xf9, 0x1f, 0x20, 0x03, 0xd5};
	_Alignas(8) uint8_t buf[4096] = {0};
	struct kvm_run *run = (struct kvm_run *)buf;
	struct xg_exit_opts opts = {XG_ARCH_ARM64, XG_HW_NONE};
	struct xg_error err;
	char path[512], want[512];
	struct xg_exit x;
	struct xg_dump_req r;

	memset(f, 0, sizeof(*f));
	memcpy(f->ram + 0x3000, a64, sizeof(a64));
	for (int i = 0; i < 128; i++)
		f->ram[0x9000 + i] = (uint8_t)(0x11 * i);
	f->pc = ARM_VA_BASE + 0x3000;
	f->sp = ARM_VA_BASE + 0x9000;
	f->pstate = 0x3c5;
	for (int i = 0; i < 31; i++)
		f->x[i] = 0x1000 + (uint64_t)i;
	run->exit_reason = KVM_EXIT_ARM_NISV;
	run->arm_nisv.esr_iss = 0x93c08000; /* ISV=0: KVM could not decode it */
	run->arm_nisv.fault_ipa = 0x9000000;
	if (xg_exit_decode(&x, buf, sizeof(buf), &opts, &err))
		bail("xg_exit_decode: %s", err.msg);
	r = req(subdir("arm"), "arm", &x, &named_ops, f);
	if (!write_ok(&r, path, sizeof(path), "arm64 exit through get_reg and translate_gva"))
		return;
	field_is(path, "$d->{exit}{kind}", "arm_nisv", "exit kind");
	field_is(path, "defined $d->{insn} ? 'set' : 'null'", "null", "insn: none in this exit");
	field_is(path, "join ',', @{$d->{registers}}{qw(pc sp x0 x30 pstate)}",
		 "0xffff000000003000,0xffff000000009000,0x1000,0x101e,0x3c5",
		 "registers: pc, sp, x0..x30, pstate by name");
	field_is(path, "$d->{code}{start}", "0xffff000000002fe0", "code: start");
	field_is(path, "$d->{code}{disasm}[0]", "0xffff000000003000: ldr x0, [x1]",
		 "code: A64 disassembly");
	hex(f->ram + 0x9000, 128, want);
	field_is(path, "$d->{stack}{bytes}", want, "stack: at SP through translate_gva");

	/* An x86 exit on the same VMM: registers by name, memory through translate_gva. */
	emul_exit(&x, guest_code, 2);
	f->regs.rip = ARM_VA_BASE + 0x3000;
	f->regs.gpr[XG_EMU_X86_RSP] = 0x42; /* translate_gva refuses it */
	r = req(subdir("named"), "named", &x, &named_ops, f);
	if (!write_ok(&r, path, sizeof(path), "x86 exit through get_reg and translate_gva"))
		return;
	field_is(path, "$d->{registers}{rip}", "0xffff000000003000", "registers: rip by name");
	field_like(path, "$d->{registers}{unavailable}", "cr2", "registers: what get_reg lacks");
	hex(f->ram + 0x3000 - 32, 96, want);
	field_is(path, "$d->{code}{bytes}", want, "code: read through translate_gva");
	field_like(path, "$d->{stack}{error}", "translate_gva(0x42) failed",
		   "stack: error says why");
}

static void test_failures(struct fake *f)
{
	char path[512], list[512], file[512];
	struct xg_error err;
	struct xg_exit x;
	struct xg_dump_req r;
	struct rlimit old, lim;
	FILE *fp;
	int rc;

	guest_paged(f);
	emul_exit(&x, guest_code, 2);

	r = req(subdir("missing/dumps"), "web", &x, &full_ops, f);
	err.msg[0] = 0;
	is_int(xg_dump_write(&r, path, sizeof(path), &err), -1, "a missing parent fails");
	like(err.msg, subdir("missing/dumps"), "the message names the directory");
	like(err.msg, "parent", "and says the parent is missing");
	listing(subdir("missing"), list, sizeof(list));
	is_str(list, "(none)", "nothing was created");

	snprintf(file, sizeof(file), "%s", subdir("plainfile"));
	fp = fopen(file, "w");
	if (fp)
		fclose(fp);
	r.dir = file;
	err.msg[0] = 0;
	is_int(xg_dump_write(&r, path, sizeof(path), &err), -1, "a dump_dir that is a file fails");
	like(err.msg, file, "the message names it");

	r.dir = subdir("locked");
	mkdir(r.dir, 0500);
	chmod(r.dir, 0500);
	/* root writes into a 0500 directory by CAP_DAC_OVERRIDE: without it, as anyone */
	if (geteuid() == 0 && dac_override(0)) {
		skip(3, "root without CAP_DAC_OVERRIDE could not be had (capset: %s)",
		     strerror(errno));
	} else {
		err.msg[0] = 0;
		is_int(xg_dump_write(&r, path, sizeof(path), &err), -1,
		       "an unwritable directory fails");
		like(err.msg, r.dir, "the message names the path");
		like(err.msg, "Permission denied", "and says why");
		if (geteuid() == 0 && dac_override(1))
			bail("capset could not give CAP_DAC_OVERRIDE back: %s", strerror(errno));
	}
	chmod(r.dir, 0750);

	/* A write that fails after the temp file exists (RLIMIT_FSIZE: EFBIG, SIGXFSZ
	 * ignored): the temp file must go. */
	r.dir = subdir("full");
	mkdir(r.dir, 0750);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 100;
	err.msg[0] = 0;
	fflush(stdout); /* stdout may be a file too: nothing of it is written under the limit */
	setrlimit(RLIMIT_FSIZE, &lim);
	rc = xg_dump_write(&r, path, sizeof(path), &err);
	setrlimit(RLIMIT_FSIZE, &old);
	is_int(rc, -1, "a write failure fails");
	like(err.msg, r.dir, "the message names the path");
	like(err.msg, strerror(EFBIG), "and says why");
	listing(r.dir, list, sizeof(list));
	is_str(list, "", "no partial or temp file is left");

	err.msg[0] = 0;
	is_int(xg_dump_write(&r, path, 10, &err), -1, "a path buffer too small fails");
	like(err.msg, "caller's buffer", "and says so");
	listing(r.dir, list, sizeof(list));
	is_str(list, "", "before anything is written");

	r.dir = NULL;
	is_int(xg_dump_write(&r, path, sizeof(path), &err), -1, "no dump_dir fails");
	like(err.msg, "dump_dir", "and says which setting");
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

int main(void)
{
	static struct fake f; /* 128 KiB of guest RAM: not on the stack */

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xg-dump-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		bail("mkdtemp: %s", strerror(errno));
	if (system("perl -MJSON::PP -e 1 2>/dev/null") != 0)
		bail("perl with JSON::PP is needed to read the dumps back (.ci/deps installs it)");

	test_paged(&f);
	test_flat32(&f);
	test_nothing();
	test_hostile(&f);
	test_named(&f);
	test_runs(&f);
	test_failures(&f);

	if (!tap_failures())
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		diag("dumps kept in %s", tmpdir);
	return done_testing();
}
