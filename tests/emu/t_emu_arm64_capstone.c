/*
 * t_emu_arm64_capstone.c - the A64 load/store decoder against capstone on real arm64 code.
 *
 * The executable sections of Debian's cross libc for arm64 (libc6-arm64-cross, with
 * gcc-aarch64-linux-gnu) are walked one word at a time. Every word is decoded by capstone
 * (ARM64 mode) and by exitgate. For each one exitgate performs, capstone's text must be the
 * text exitgate's decode renders - mnemonic (the class and the size), registers (W/X/B/H/S/D/Q,
 * SP vs XZR), index mode, offset, extend and shift. A word exitgate calls UNDEFINED must be one
 * capstone rejects too; a word capstone calls a load/store must be one exitgate places in the
 * load/store space. The counts are printed. The ELF section headers are read here directly
 * (ELF-64 gABI, "Section Header").
 */
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capstone/capstone.h>

#include "tap.h"
#include "xg_emu_arm64.h"

static const char *const libs[] = {
    "/usr/aarch64-linux-gnu/lib/libc.so.6",
};

struct counts {
	long words, cs_ldst, ok, agreed, not_handled, undef, undef_agreed, missed, disagreed;
	long unpredictable;  /* CONSTRAINED UNPREDICTABLE encodings: capstone rejects them */
	long capstone_wrong; /* capstone rejects, GNU objdump agrees with exitgate */
	long ndisputed;
	uint32_t disputed[16384]; /* capstone rejects, exitgate performs: for objdump */
};

/* 1 while rendering for GNU objdump (decimal immediates), 0 for capstone. */
static int objdump_style;

/* Capstone's immediate syntax: decimal up to 9, hexadecimal above, a sign in front. */
static int imm_str(char *p, int64_t v)
{
	uint64_t a = v < 0 ? -(uint64_t)v : (uint64_t)v;

	if (a > 9 && !objdump_style)
		return sprintf(p, "#%s0x%" PRIx64, v < 0 ? "-" : "", a);
	return sprintf(p, "#%s%" PRIu64, v < 0 ? "-" : "", a);
}

static int reg_str(char *p, unsigned r, unsigned size, int fp)
{
	static const char fpc[17] = {[1] = 'b', [2] = 'h', [4] = 's', [8] = 'd', [16] = 'q'};

	if (fp)
		return sprintf(p, "%c%u", fpc[size], r);
	if (r == 31)
		return sprintf(p, "%s", size == 8 ? "xzr" : "wzr");
	return sprintf(p, "%c%u", size == 8 ? 'x' : 'w', r);
}

/* ST<op> is the preferred disassembly of LD<op> with Rt = XZR and no acquire (C6.2 STADD). */
static int st_alias(const struct xg_emu_arm64_insn *in)
{
	return in->cls == XG_EMU_ARM64_C_ATOMIC && in->aop < XG_EMU_ARM64_AOP_SWP && in->rt == 31 &&
	       !((in->word >> 23) & 1);
}

static const char *mnemonic(const struct xg_emu_arm64_insn *in, char *buf)
{
	if (in->cls == XG_EMU_ARM64_C_DCZVA)
		return "dc";
	if (!st_alias(in))
		return in->name;
	sprintf(buf, "st%s", in->name + 2);
	return buf;
}

/* exitgate's decode, in capstone's syntax. */
static void render(const struct xg_emu_arm64_insn *in, uint64_t pc, char *out)
{
	static const char *const ext[8] = {"uxtb", "uxth", "uxtw", "lsl",
					   "sxtb", "sxth", "sxtw", "sxtx"};
	char *p = out;

	if (in->cls == XG_EMU_ARM64_C_DCZVA) { /* capstone: "dc" with "zva, Xt" */
		p += sprintf(p, "zva, ");
		reg_str(p, in->rt, 8, 0);
		return;
	}
	if (in->cls == XG_EMU_ARM64_C_STRUCT) {
		static const char *const arr[9][2] = {[1] = {"8b", "16b"},
						      [2] = {"4h", "8h"},
						      [4] = {"2s", "4s"},
						      [8] = {"1d", "2d"}};
		static const char lanec[9] = {[1] = 'b', [2] = 'h', [4] = 's', [8] = 'd'};
		unsigned r, n = in->rpt * in->selem;

		p += sprintf(p, "{");
		for (r = 0; r < n; r++) {
			if (in->single)
				p += sprintf(p, "%sv%u.%c", r ? ", " : "", (in->rt + r) % 32,
					     lanec[in->size]);
			else
				p += sprintf(p, "%sv%u.%s", r ? ", " : "", (in->rt + r) % 32,
					     arr[in->size][in->datasize == 16]);
		}
		p += sprintf(p, "}");
		if (in->single) {
			char idx[24];

			imm_str(idx, in->lane);
			p += sprintf(p, "[%s]", idx + 1); /* the lane number, without '#' */
		}
		if (in->rn == 31)
			p += sprintf(p, ", [sp]");
		else
			p += sprintf(p, ", [x%u]", in->rn);
		if (in->index == XG_EMU_ARM64_POST && in->rm != 31)
			sprintf(p, ", x%u", in->rm);
		else if (in->index == XG_EMU_ARM64_POST)
			imm_str(p + sprintf(p, ", "), in->imm);
		return;
	}
	if (in->cls == XG_EMU_ARM64_C_ATOMIC) {
		p += reg_str(p, in->rs, in->regsize, 0);
		p += sprintf(p, ", ");
		if (in->aop == XG_EMU_ARM64_AOP_CASP) {
			p += reg_str(p, (in->rs + 1) % 32, in->regsize, 0);
			p += sprintf(p, ", ");
			p += reg_str(p, in->rt, in->regsize, 0);
			p += sprintf(p, ", ");
			p += reg_str(p, (in->rt + 1) % 32, in->regsize, 0);
		} else if (!st_alias(in)) {
			p += reg_str(p, in->rt, in->regsize, 0);
		} else {
			p -= 2;
		}
		sprintf(p, in->rn == 31 ? ", [sp]" : ", [x%u]", in->rn);
		return;
	}
	p += reg_str(p, in->rt, in->regsize, in->fp);
	if (in->cls == XG_EMU_ARM64_C_PAIR) {
		p += sprintf(p, ", ");
		p += reg_str(p, in->rt2, in->regsize, in->fp);
	}
	if (in->index == XG_EMU_ARM64_LITERAL) {
		sprintf(p, ", #0x%" PRIx64, pc + (uint64_t)in->imm);
		return;
	}
	if (in->rn == 31)
		p += sprintf(p, ", [sp");
	else
		p += sprintf(p, ", [x%u", in->rn);
	switch (in->index) {
	case XG_EMU_ARM64_REGOFF: {
		unsigned x = in->extend == XG_EMU_ARM64_UXTX || in->extend == XG_EMU_ARM64_SXTX;

		p += sprintf(p, ", ");
		p += reg_str(p, in->rm, x ? 8 : 4, 0);
		if (in->extend != XG_EMU_ARM64_UXTX || in->shift_given)
			p += sprintf(p, ", %s", ext[in->extend]);
		if (in->shift_given)
			p += sprintf(p, " #%u", in->shift);
		sprintf(p, "]");
		break;
	}
	case XG_EMU_ARM64_POST:
		/* capstone 4 prints a negative post-index offset as its 64-bit two's complement */
		p += sprintf(p, "], ");
		if (in->imm < 0 && in->cls == XG_EMU_ARM64_C_SINGLE && !objdump_style)
			sprintf(p, "#0x%" PRIx64, (uint64_t)in->imm);
		else
			imm_str(p, in->imm);
		break;
	case XG_EMU_ARM64_PRE:
		p += sprintf(p, ", ");
		p += imm_str(p, in->imm);
		sprintf(p, "]!");
		break;
	default:
		if (in->imm) {
			p += sprintf(p, ", ");
			p += imm_str(p, in->imm);
		}
		sprintf(p, "]");
	}
}

static int cs_is_ldst(const char *m)
{
	static const char *const pfx[] = {"ld", "st", "prf", "cas", "swp"};
	unsigned i;

	for (i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++)
		if (!strncmp(m, pfx[i], strlen(pfx[i])))
			return 1;
	return 0;
}

/*
 * The encodings the ARM ARM calls CONSTRAINED UNPREDICTABLE, which capstone (LLVM) rejects
 * and exitgate decodes and performs with a deliberate choice (xg_emu_arm64_emulate.c):
 * writeback with Rn = Rt or Rt2 (Rn not SP), a load pair with Rt = Rt2, and LDAR/STLR/LDLAR/
 * STLLR/CAS/CASP whose should-be-one Rs or Rt2 fields are not all ones (K1.2).
 */
static int unpredictable(const struct xg_emu_arm64_insn *in)
{
	int pair = in->cls == XG_EMU_ARM64_C_PAIR;
	int wb = in->index == XG_EMU_ARM64_PRE || in->index == XG_EMU_ARM64_POST;

	if (wb && in->rn != 31 && (in->rn == in->rt || (pair && in->rn == in->rt2)))
		return 1;
	if (pair && in->load && in->rt == in->rt2)
		return 1;
	if ((in->word & 0x3f000000) != 0x08000000)
		return 0;
	if (in->cls == XG_EMU_ARM64_C_ATOMIC) /* CAS, CASP: Rt2 */
		return in->rt2 != 31;
	return in->cls == XG_EMU_ARM64_C_SINGLE && (in->rs != 31 || in->rt2 != 31);
}

static void check_word(csh h, uint32_t w, uint64_t pc, struct counts *n, int *shown)
{
	struct xg_emu_arm64_insn in;
	struct xg_emu_arm64_exception exc;
	char reason[96], mine[128], alias[32];
	uint8_t b[4] = {(uint8_t)w, (uint8_t)(w >> 8), (uint8_t)(w >> 16), (uint8_t)(w >> 24)};
	cs_insn *ci = NULL;
	size_t got = cs_disasm(h, b, 4, pc, 1, &ci);
	enum xg_emu_arm64_status st = xg_emu_arm64_decode(w, &in, &exc, reason);
	int cs_ls = got && cs_is_ldst(ci[0].mnemonic);

	n->words++;
	n->cs_ldst += cs_ls;
	if (st == XG_EMU_ARM64_OK) {
		n->ok++;
		if (!got && unpredictable(&in)) {
			n->unpredictable++;
		} else if (!got && n->ndisputed < 16384) {
			n->disputed[n->ndisputed++] = w;
		} else if (!got) {
			n->disagreed++;
		} else if (in.cls == XG_EMU_ARM64_C_PREFETCH) {
			if (!strcmp(ci[0].mnemonic, in.name))
				n->agreed++;
			else if (n->disagreed++, (*shown)++ < 20)
				diag("%08x: exitgate %s, capstone %s", w, in.name, ci[0].mnemonic);
		} else {
			render(&in, pc, mine);
			if (!strcmp(ci[0].mnemonic, mnemonic(&in, alias)) &&
			    !strcmp(ci[0].op_str, mine)) {
				n->agreed++;
			} else {
				n->disagreed++;
				if ((*shown)++ < 20)
					diag("%08x: exitgate '%s %s', capstone '%s %s'", w, in.name,
					     mine, ci[0].mnemonic, ci[0].op_str);
			}
		}
	} else if (st == XG_EMU_ARM64_EXCEPTION) {
		n->undef++;
		if (!got)
			n->undef_agreed++;
		else if (n->disagreed++, (*shown)++ < 20)
			diag("%08x: exitgate undefined (%s), capstone '%s %s'", w, reason,
			     ci[0].mnemonic, ci[0].op_str);
	} else if (in.cls != XG_EMU_ARM64_C_NONE) {
		n->not_handled++;
	} else if (cs_ls) {
		n->missed++;
		if ((*shown)++ < 20)
			diag("%08x: exitgate: not a load/store, capstone '%s %s'", w,
			     ci[0].mnemonic, ci[0].op_str);
	}
	if (ci)
		cs_free(ci, got);
}

static int walk(csh h, const char *path, struct counts *n)
{
	struct stat st;
	const uint8_t *img;
	const Elf64_Ehdr *eh;
	int fd = open(path, O_RDONLY), shown = 0;
	unsigned s;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return -1;
	}
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return -1;
	eh = (const Elf64_Ehdr *)img;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_AARCH64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)st.st_size) {
		munmap((void *)img, (size_t)st.st_size);
		return -1;
	}
	for (s = 0; s < eh->e_shnum; s++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff) + s;
		uint64_t off;

		if (sh->sh_type != SHT_PROGBITS || !(sh->sh_flags & SHF_EXECINSTR) ||
		    sh->sh_offset + sh->sh_size > (uint64_t)st.st_size)
			continue;
		for (off = 0; off + 4 <= sh->sh_size; off += 4) {
			uint32_t w;

			memcpy(&w, img + sh->sh_offset + off, 4); /* A64 code is little-endian */
			check_word(h, w, sh->sh_addr + off, n, &shown);
		}
	}
	munmap((void *)img, (size_t)st.st_size);
	return 0;
}

/* Words of the whole load/store space (op0 = x1x0), from a fixed xorshift sequence: the
 * encodings libc never uses, unallocated ones included. */
static void sweep(csh h, long count, struct counts *n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int shown = 0;
	long i;

	for (i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		check_word(h, ((uint32_t)x & ~0x0a000000u) | 0x08000000u, 0x400000, n, &shown);
	}
}

/*
 * The tie-breaker for the words capstone 4.0 rejects and exitgate performs (capstone 4.0
 * predates FEAT_LOR's LDLAR/STLLR and FEAT_LRCPC's LDAPR, and rejects LDTR with Rt = Rn as if
 * it wrote back): GNU objdump for aarch64 on all of them at once. Each must render the same.
 */
static void objdump_judge(struct counts *n)
{
	char path[] = "/tmp/xg_a64_XXXXXX", cmd[256], line[512];
	int fd = mkstemp(path), shown = 0;
	long judged = 0;
	FILE *f;

	if (fd < 0 || write(fd, n->disputed, (size_t)n->ndisputed * 4) != n->ndisputed * 4) {
		if (fd >= 0)
			close(fd);
		n->disagreed += n->ndisputed;
		return;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "aarch64-linux-gnu-objdump -D -b binary -maarch64 %s 2>/dev/null", path);
	f = popen(cmd, "r");
	objdump_style = 1;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long off;
		char mnem[32], ops[256], mine[128], alias[32];
		struct xg_emu_arm64_insn in;
		unsigned w;

		if (sscanf(line, " %lx:\t%x \t%31s %255[^\n]", &off, &w, mnem, ops) != 4 ||
		    off % 4 || (long)off / 4 >= n->ndisputed)
			continue;
		judged++;
		xg_emu_arm64_decode(n->disputed[off / 4], &in, NULL, NULL);
		render(&in, off, mine);
		if (!strcmp(mnem, mnemonic(&in, alias)) && !strcmp(ops, mine)) {
			n->capstone_wrong++;
		} else {
			n->disagreed++;
			if (shown++ < 20)
				diag("%08x: exitgate '%s %s', capstone: invalid, objdump '%s %s'",
				     w, in.name, mine, mnem, ops);
		}
	}
	objdump_style = 0;
	if (f)
		pclose(f);
	unlink(path);
	n->disagreed += n->ndisputed - judged;
}

int main(void)
{
	csh h;
	unsigned i, done = 0;

	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK)
		skip_all("capstone here has no ARM64 support");
	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		struct counts n = {0};

		if (access(libs[i], R_OK))
			continue;
		if (walk(h, libs[i], &n)) {
			ok(0, "%s: readable as an arm64 ELF", libs[i]);
			continue;
		}
		done++;
		if (n.ndisputed)
			objdump_judge(&n);
		diag("%s: %ld words, %ld loads/stores by capstone; exitgate performs %ld, of which "
		     "%ld agree; %ld not handled (with a reason), %ld undefined (%ld of them "
		     "invalid for capstone too), %ld missed",
		     libs[i], n.words, n.cs_ldst, n.ok, n.agreed, n.not_handled, n.undef,
		     n.undef_agreed, n.missed);
		ok(n.ok > 1000, "%s: exitgate performs many of its loads/stores (%ld)", libs[i],
		   n.ok);
		is_int(n.disagreed, 0, "%s: no disagreement with capstone", libs[i]);
		is_int(n.missed, 0, "%s: no capstone load/store outside exitgate's space", libs[i]);
	}
	{
		struct counts n = {0};

		sweep(h, 1000000, &n);
		if (n.ndisputed && access("/usr/bin/aarch64-linux-gnu-objdump", X_OK)) {
			skip(2,
			     "%ld words capstone rejects need aarch64-linux-gnu-objdump "
			     "(binutils-aarch64-linux-gnu)",
			     n.ndisputed);
			cs_close(&h);
			return done_testing();
		}
		objdump_judge(&n);
		diag("random sweep: %ld words; exitgate performs %ld, of which %ld agree; %ld not "
		     "handled, %ld undefined (%ld of them invalid for capstone too), %ld missed; "
		     "%ld CONSTRAINED UNPREDICTABLE (capstone rejects); %ld capstone "
		     "rejects and objdump agrees with exitgate",
		     n.words, n.ok, n.agreed, n.not_handled, n.undef, n.undef_agreed, n.missed,
		     n.unpredictable, n.capstone_wrong);
		is_int(n.disagreed, 0, "random sweep: no disagreement with capstone");
		is_int(n.missed, 0,
		       "random sweep: no capstone load/store outside exitgate's space");
	}
	cs_close(&h);
	if (!done)
		skip_all("no arm64 libc here (install gcc-aarch64-linux-gnu: libc6-arm64-cross)");
	return done_testing();
}
