/*
 * bench_emu_arm64.c - how fast exitgate's A64 load/store decoder and emulator are, against
 * capstone.
 *
 * The words are the loads and stores of a real arm64 binary: every word of the executable
 * sections of Debian's arm64 libc (/usr/aarch64-linux-gnu/lib/libc.so.6, from
 * libc6-arm64-cross, as t_emu_arm64_capstone reads it; another ELF may be given as argv[1])
 * that exitgate's decoder performs. In one run they are decoded by xg_emu_arm64_decode(),
 * decoded and emulated by xg_emu_arm64_emulate() through an in-memory fake vCPU (a translate
 * callback, so no table walk), and disassembled by capstone's cs_disasm_iter() with
 * CS_OPT_DETAIL on (what a policy layer would call to get operands). Prints ns per
 * instruction and the ratios; the target is decode >= 10x faster than capstone with detail.
 * Not a test: absolute times on a shared machine vary; the ratio is what to quote.
 *   build/bench/bench_emu_arm64 [ELF [ROUNDS]]
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <capstone/capstone.h>

#include "xg_emu_arm64.h"

#define BASE 0x10000ull /* the fake vCPU's 4 pages of memory */

static struct {
	struct xg_emu_arm64_regs r, r0;
	struct xg_emu_arm64_vregs v;
	uint8_t mem[4 * 4096];
	long injected;
} vcpu;

static int get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	(void)o;
	*r = vcpu.r;
	return 0;
}

static int set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	(void)o;
	vcpu.r = *r;
	return 0;
}

static int get_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	(void)o;
	*v = vcpu.v;
	return 0;
}

static int set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	(void)o;
	vcpu.v = *v;
	return 0;
}

/* Every VA page lands on one of the 4 pages (the accesses never cross one). */
static int translate(void *o, uint64_t va, enum xg_emu_arm64_access kind, unsigned el,
		     uint64_t *ipa, uint8_t *fsc)
{
	(void)o;
	(void)kind;
	(void)el;
	(void)fsc;
	*ipa = BASE + (va & 0x3fff);
	return 0;
}

static int rd(void *o, uint64_t ipa, void *buf, unsigned n, enum xg_emu_arm64_access kind)
{
	(void)o;
	(void)kind;
	memcpy(buf, vcpu.mem + (ipa - BASE), n);
	return 0;
}

static int wr(void *o, uint64_t ipa, const void *buf, unsigned n)
{
	(void)o;
	memcpy(vcpu.mem + (ipa - BASE), buf, n);
	return 0;
}

static int inject(void *o, const struct xg_emu_arm64_exception *e)
{
	(void)o;
	(void)e;
	vcpu.injected++;
	return 0;
}

static const struct xg_emu_arm64_ops ops = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_vregs = get_vregs,
    .set_vregs = set_vregs,
    .translate = translate,
    .read = rd,
    .write = wr,
    .inject = inject,
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The words of the ELF's executable sections that exitgate performs (ELF-64 gABI, section
 * headers). Returns how many, or -1 with a message. */
static long load_words(const char *path, uint32_t **out)
{
	struct xg_emu_arm64_insn in;
	const Elf64_Ehdr *eh;
	uint32_t *w = NULL;
	long n = 0, cap = 0;
	struct stat st;
	uint8_t *img;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr,
			"bench_emu_arm64: cannot read %s (install libc6-arm64-cross, or give "
			"an arm64 ELF as the first argument)\n",
			path);
		return -1;
	}
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	eh = (const Elf64_Ehdr *)img;
	if (img == MAP_FAILED || (size_t)st.st_size < sizeof(*eh) ||
	    memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_AARCH64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)st.st_size) {
		fprintf(stderr, "bench_emu_arm64: %s is not a 64-bit arm64 ELF\n", path);
		return -1;
	}
	for (unsigned s = 0; s < eh->e_shnum; s++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff) + s;

		if (sh->sh_type != SHT_PROGBITS || !(sh->sh_flags & SHF_EXECINSTR) ||
		    sh->sh_offset + sh->sh_size > (uint64_t)st.st_size)
			continue;
		for (uint64_t off = 0; off + 4 <= sh->sh_size; off += 4) {
			uint32_t word;

			memcpy(&word, img + sh->sh_offset + off, 4);
			if (xg_emu_arm64_decode(word, &in, NULL, NULL) != XG_EMU_ARM64_OK)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 4096;
				w = realloc(w, (size_t)cap * sizeof(*w));
				if (!w)
					return -1;
			}
			w[n++] = word;
		}
	}
	munmap(img, (size_t)st.st_size);
	*out = w;
	return n;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/usr/aarch64-linux-gnu/lib/libc.so.6";
	long rounds = argc > 2 ? atol(argv[2]) : 20, nw, n, ok = 0, emulated = 0, cs_ok = 0;
	struct xg_emu_arm64_insn in;
	struct xg_emu_arm64_result res;
	double t0, t_dec, t_emu, t_cs;
	uint32_t *words;
	cs_insn *ci;
	csh h;

	nw = load_words(path, &words);
	if (nw <= 0)
		return 1;
	n = nw * rounds;
	/* EL1, MMU on (through the callback), no alignment checks; bases inside the memory,
	 * 16-byte aligned (SP, LDAR and the atomics want it) */
	vcpu.r.pstate = 0x3c5;
	vcpu.r.sctlr_el1 = 1;
	for (int i = 0; i < 31; i++)
		vcpu.r.x[i] = BASE + 0x2000 + 16 * (uint64_t)i;
	vcpu.r.sp = BASE + 0x3000;
	vcpu.r.pc = BASE;
	vcpu.r0 = vcpu.r;

	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK)
		return 1;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);

	t0 = now();
	for (long r = 0; r < rounds; r++)
		for (long i = 0; i < nw; i++)
			ok += xg_emu_arm64_decode(words[i], &in, NULL, NULL) == XG_EMU_ARM64_OK;
	t_dec = (now() - t0) / n;

	t0 = now();
	for (long r = 0; r < rounds; r++)
		for (long i = 0; i < nw; i++) {
			vcpu.r = vcpu.r0;
			emulated +=
			    xg_emu_arm64_emulate(&ops, NULL, &words[i], &res) == XG_EMU_ARM64_OK;
		}
	t_emu = (now() - t0) / n;

	ci = cs_malloc(h);
	t0 = now();
	for (long r = 0; r < rounds; r++)
		for (long i = 0; i < nw; i++) {
			const uint8_t *p = (const uint8_t *)&words[i];
			size_t len = 4;
			uint64_t addr = BASE;

			cs_ok += cs_disasm_iter(h, &p, &len, &addr, ci);
		}
	t_cs = (now() - t0) / n;
	cs_free(ci, 1);
	cs_close(&h);

	printf("arm64 emulator benchmark: %ld load/store words of %s x %ld rounds\n", nw, path,
	       rounds);
	printf("  (decoded %ld, emulated %ld, exceptions %ld, capstone decoded %ld)\n", ok,
	       emulated, vcpu.injected, cs_ok);
	printf("  exitgate decode                    %8.1f ns/insn\n", t_dec);
	printf("  exitgate decode+emulate            %8.1f ns/insn\n", t_emu);
	printf("  capstone cs_disasm_iter, detail    %8.1f ns/insn\n", t_cs);
	printf("  decode speed-up vs capstone with detail: %.1fx (target >= 10x); "
	       "decode+emulate: %.1fx\n",
	       t_cs / t_dec, t_cs / t_emu);
	free(words);
	return 0;
}
