/*
 * t_emu_capstone.c - the decoder against capstone on code nobody here wrote.
 *
 * The text sections of real binaries on this machine (libc, libcapstone, liblua) are walked
 * with capstone (detail on); every instruction capstone decodes is decoded by exitgate too.
 * For each one with an explicit memory operand, the length and the operand's form (base,
 * index, scale, displacement, segment override, RIP-relative) must agree, or exitgate must say
 * it does not handle the instruction. Lengths are compared for all the others as well. The
 * ELF section headers are read here directly (ELF-64 gABI, "Section Header").
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capstone/capstone.h>

#include "tap.h"
#include "xg_emu_x86.h"

static const char *const libs[] = {
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libcapstone.so.4",
    "/usr/lib/x86_64-linux-gnu/liblua5.4.so.0",
};

struct counts {
	long insns, mem, agreed, not_handled, implicit, disagreed, len_checked, len_bad;
	long capstone_wrong; /* disagreements where objdump sides with exitgate */
};

static const char *const gpr64[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
				      "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

/*
 * The tie-breaker: a third decoder (GNU objdump, if installed) on the same bytes. Returns 1
 * if its Intel-syntax memory operand is the one exitgate decoded, 0 if not, -1 if objdump is
 * not there.
 */
static int objdump_agrees(const uint8_t *code, unsigned len, const struct xg_emu_x86_insn *in)
{
	char path[] = "/tmp/xg_capstone_XXXXXX", cmd[256], line[512], want[96], *p = want;
	int fd = mkstemp(path), found = 0;
	FILE *f;

	if (fd < 0)
		return -1;
	if (write(fd, code, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	if (in->addrsize != 8 || in->vsib || in->rip_rel) {
		unlink(path);
		return -1;
	}
	p += sprintf(p, "[");
	if (in->base != XG_EMU_X86_NOREG)
		p += sprintf(p, "%s", gpr64[in->base & 15]);
	if (in->index != XG_EMU_X86_NOREG)
		p += sprintf(p, "%s%s*%u", in->base != XG_EMU_X86_NOREG ? "+" : "",
			     gpr64[in->index & 15], in->scale);
	if (in->disp)
		p += sprintf(p, "%s0x%llx", in->disp < 0 ? "-" : "+",
			     (unsigned long long)(in->disp < 0 ? -in->disp : in->disp));
	sprintf(p, "]");
	snprintf(cmd, sizeof(cmd), "objdump -D -b binary -mi386:x86-64 -M intel %s 2>/dev/null",
		 path);
	f = popen(cmd, "r");
	if (!f) {
		unlink(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "   0:") && strstr(line, want))
			found = 1;
	pclose(f);
	unlink(path);
	return found;
}

static int gpr_of(x86_reg r)
{
	static const x86_reg r64[16] = {X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX,
					X86_REG_RSP, X86_REG_RBP, X86_REG_RSI, X86_REG_RDI,
					X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11,
					X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15};
	static const x86_reg r32[16] = {X86_REG_EAX,  X86_REG_ECX,  X86_REG_EDX,  X86_REG_EBX,
					X86_REG_ESP,  X86_REG_EBP,  X86_REG_ESI,  X86_REG_EDI,
					X86_REG_R8D,  X86_REG_R9D,  X86_REG_R10D, X86_REG_R11D,
					X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D};
	if (r == X86_REG_INVALID)
		return XG_EMU_X86_NOREG;
	for (int i = 0; i < 16; i++)
		if (r == r64[i] || r == r32[i])
			return i;
	if (r >= X86_REG_XMM0 && r <= X86_REG_XMM31)
		return 0x100 + (r - X86_REG_XMM0);
	if (r >= X86_REG_YMM0 && r <= X86_REG_YMM31)
		return 0x100 + (r - X86_REG_YMM0);
	if (r >= X86_REG_ZMM0 && r <= X86_REG_ZMM31)
		return 0x100 + (r - X86_REG_ZMM0);
	if (r == X86_REG_RIP || r == X86_REG_EIP)
		return 0x200;
	return 0x300 + r;
}

static int seg_of(x86_reg r)
{
	switch (r) {
	case X86_REG_ES:
		return 0;
	case X86_REG_CS:
		return 1;
	case X86_REG_SS:
		return 2;
	case X86_REG_DS:
		return 3;
	case X86_REG_FS:
		return 4;
	case X86_REG_GS:
		return 5;
	default:
		return -1;
	}
}

static int shown;

static void check_one(const cs_insn *ci, const uint8_t *code, size_t avail, struct counts *n)
{
	const cs_x86 *x = &ci->detail->x86;
	const cs_x86_op *mop = NULL;
	struct xg_emu_x86_insn in;
	char reason[96];
	int st, nmem = 0;

	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM) {
			nmem++;
			if (!mop)
				mop = &x->operands[i];
		}
	n->insns++;
	st = xg_emu_x86_decode(code, avail, 64, 0, &in, NULL, reason);
	if (st == XG_EMU_X86_OK) {
		n->len_checked++;
		if (in.len != ci->size) {
			n->len_bad++;
			if (shown++ < 20)
				diag("length: %s %s (%u bytes) -> exitgate %u", ci->mnemonic,
				     ci->op_str, ci->size, in.len);
		}
	}
	if (!mop)
		return;
	n->mem++;
	if (st != XG_EMU_X86_OK) {
		n->not_handled++;
		return;
	}
	if (!in.has_mem) {
		n->implicit++; /* string/stack operands capstone lists and exitgate keeps implicit
				*/
		return;
	}
	{
		int cbase = gpr_of(mop->mem.base), cidx = gpr_of(mop->mem.index);
		int rip = cbase == 0x200;
		int ebase = in.rip_rel ? 0x200 : in.base, eidx = in.index;
		int cseg = seg_of(mop->mem.segment);
		int eseg = in.seg_override ? in.seg : -1;
		int cscale = cidx == XG_EMU_X86_NOREG ? 1 : mop->mem.scale;
		int escale = in.index == XG_EMU_X86_NOREG ? 1 : in.scale;
		int64_t edisp = in.disp;

		if (in.vsib && eidx != XG_EMU_X86_NOREG)
			eidx += 0x100;
		if (rip)
			cbase = 0x200;
		/* 64-bit mode ignores ES/CS/SS/DS overrides (exitgate's decoder drops them);
		 * capstone may or may not show them */
		if (in.mode == 64 && cseg >= 0 && cseg <= 3 && eseg == -1)
			cseg = -1;
		if (cseg == -1 && eseg >= 0 && eseg <= 3)
			eseg = -1;
		if (in.len == ci->size && cbase == ebase && cidx == eidx && cscale == escale &&
		    mop->mem.disp == edisp && cseg == eseg) {
			n->agreed++;
		} else if (in.len == ci->size && objdump_agrees(code, in.len, &in) == 1) {
			/* e.g. capstone 4.0.2 takes EVEX.V' as an index extension on non-VSIB
			 * instructions and shows [rdi + xmm2 - 0x40] for vpxorq's [rdi+rdx*1-0x40]
			 */
			n->capstone_wrong++;
			n->agreed++;
			if (shown++ < 40)
				diag("capstone wrong, objdump agrees with exitgate: %s %s",
				     ci->mnemonic, ci->op_str);
		} else {
			n->disagreed++;
			if (shown++ < 40)
				diag("disagree: %s %s [%02x %02x %02x %02x %02x %02x] cs: len %u b "
				     "%d i "
				     "%d s %d d %lld seg %d / xg: len %u b %d i %d s %d d %lld seg "
				     "%d",
				     ci->mnemonic, ci->op_str, code[0], code[1], code[2], code[3],
				     code[4], code[5], ci->size, cbase, cidx, cscale,
				     (long long)mop->mem.disp, cseg, in.len, ebase, eidx, escale,
				     (long long)edisp, eseg);
		}
	}
	(void)nmem;
}

static int walk(csh h, const char *path, struct counts *n)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *img;
	const Elf64_Ehdr *eh;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return -1;
	eh = (const Elf64_Ehdr *)img;
	if ((size_t)st.st_size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)st.st_size) {
		munmap(img, (size_t)st.st_size);
		return -1;
	}
	for (unsigned s = 0; s < eh->e_shnum; s++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff) + s;
		cs_insn *ci = cs_malloc(h);
		const uint8_t *code;
		size_t size;
		uint64_t addr;

		if (sh->sh_type != SHT_PROGBITS || !(sh->sh_flags & SHF_EXECINSTR) ||
		    sh->sh_offset + sh->sh_size > (uint64_t)st.st_size) {
			cs_free(ci, 1);
			continue;
		}
		code = img + sh->sh_offset;
		size = sh->sh_size;
		addr = sh->sh_addr;
		while (size > 0) {
			const uint8_t *at = code;
			if (cs_disasm_iter(h, &code, &size, &addr, ci)) {
				check_one(ci, at, (size_t)(code - at) + size, n);
			} else {
				code++;
				size--;
				addr++;
			}
		}
		cs_free(ci, 1);
	}
	munmap(img, (size_t)st.st_size);
	return 0;
}

int main(void)
{
	csh h;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		bail("capstone cs_open failed");
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		struct counts n = {0};
		if (walk(h, libs[i], &n) < 0) {
			skip(2, "%s not readable", libs[i]);
			continue;
		}
		diag("%s: %ld instructions, %ld with a memory operand: %ld agreed (%ld of them "
		     "where capstone is wrong and objdump agrees with exitgate), %ld not handled, "
		     "%ld implicit (string/stack), %ld disagreed; lengths %ld checked, %ld differ",
		     libs[i], n.insns, n.mem, n.agreed, n.capstone_wrong, n.not_handled, n.implicit,
		     n.disagreed, n.len_checked, n.len_bad);
		ok(n.mem > 1000 && n.disagreed == 0,
		   "%s: %ld memory-operand instructions checked, %ld agreed, %ld not handled, %ld "
		   "disagreed",
		   libs[i], n.mem, n.agreed, n.not_handled, n.disagreed);
		is_int(n.len_bad, 0, "%s: lengths agree on all %ld decoded instructions", libs[i],
		       n.len_checked);
	}
	cs_close(&h);
	return done_testing();
}
