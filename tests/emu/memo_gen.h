/*
 * memo_gen.h - what t_emu_memo and t_emu_direct share: random instructions of the memo's
 * classes (GP mov and movzx/movsx/movsxd, the full-width vector moves, legacy, VEX and EVEX,
 * with random prefixes - segment overrides, FS/GS often in 64-bit mode - REX/VEX/EVEX fields
 * and ModRM/SIB/displacements, and now and then another instruction), random segments aimed
 * at the test's window (WIN, WIN_PAGES pages: defined before this is included), and the small
 * helpers. The random numbers are oracle_rand.h's, seeded by the test.
 */
#ifndef XG_TESTS_MEMO_GEN_H
#define XG_TESTS_MEMO_GEN_H

#include <stdio.h>

#include "oracle_rand.h"
#include "xg_emu_x86.h"

static uint64_t hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void rnd_seg(struct xg_emu_x86_segment *s, int real)
{
	static const uint8_t types[] = {3, 3, 3, 3, 3, 3, 1, 7, 5, 0xb, 0xa, 0xf};
	static const uint32_t limits[] = {0xffffffffu, 0xffffffffu, 0xffff,
					  0xfffff,     0x3ffff,	    0x7fff};
	s->base = rn(4) ? WIN - 0x8000 + rn(0x8000) : rnd() & 0xffffffffull;
	if (real)
		s->base &= ~0xfull;
	s->limit = limits[rn(sizeof(limits) / sizeof(limits[0]))];
	s->selector = (uint16_t)rnd();
	s->type = types[rn(sizeof(types))];
	s->s = 1;
	s->dpl = (uint8_t)(rn(2) * 3);
	s->present = rn(20) != 0;
	s->db = (uint8_t)rn(2);
	s->l = 0;
	s->g = 1;
	s->unusable = rn(25) == 0;
}

static void show_bytes(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02x ", b[i]);
}

static const uint8_t vec_ops[] = {0x10, 0x11, 0x28, 0x29, 0x2b, 0x6f, 0x7f, 0xe7, 0xf0, 0x12};
static const uint8_t seg_pfx[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65};

static unsigned modrm_tail(uint8_t *p)
{
	unsigned n = 0, mod = rn(10) == 0 ? 3 : rn(3);

	p[n++] = (uint8_t)(mod << 6 | rn(8) << 3 | rn(8));
	p[n++] = (uint8_t)rnd(); /* SIB, or a displacement byte */
	for (unsigned i = 0; i < 4; i++)
		p[n++] = rn(3) ? (uint8_t)(rn(2) ? rn(64) : 0) : (uint8_t)rnd();
	return n;
}

static unsigned gen_insn(uint8_t *b, int mode64)
{
	unsigned n = 0, k = rn(100);

	for (unsigned i = 0, np = rn(4) == 0 ? rn(3) : 0; i < np; i++) {
		static const uint8_t pf[] = {0x66, 0x67, 0xf2, 0xf3, 0xf0};
		b[n++] = rn(2) ? seg_pfx[rn(6)] : pf[rn(5)];
	}
	if (mode64 && rn(6) == 0) /* FS or GS: the segments with a base in 64-bit mode */
		b[n++] = (uint8_t)(0x64 + rn(2));
	if (k < 45) { /* GP mov */
		unsigned kind = rn(10);
		if (mode64 && rn(2))
			b[n++] = (uint8_t)(0x40 | rn(16));
		if (kind < 5) {
			b[n++] = (uint8_t)(0x88 + rn(4));
		} else if (kind < 7) { /* movzx, movsx; movsxd */
			if (kind == 6 && mode64) {
				b[n++] = 0x63;
			} else {
				static const uint8_t x[] = {0xb6, 0xb7, 0xbe, 0xbf};
				b[n++] = 0x0f;
				b[n++] = x[rn(4)];
			}
		} else if (kind < 9) { /* mov m, imm: /0, now and then another /r */
			b[n++] = (uint8_t)(0xc6 + rn(2));
			b[n] = (uint8_t)(rn(3) << 6 | (rn(8) ? 0 : rn(8)) << 3 | rn(8));
			b[n + 1] = (uint8_t)rnd();
			n += 2;
			for (unsigned i = 0; i < 8 && n < 15; i++) /* displacement, immediate */
				b[n++] = rn(2) ? (uint8_t)rn(64) : (uint8_t)rnd();
			while (n < 15)
				b[n++] = (uint8_t)rnd();
			return n;
		} else { /* moffs: an address in the window */
			uint64_t a = WIN + rn(WIN_PAGES * 4096);
			b[n++] = (uint8_t)(0xa0 + rn(4));
			for (unsigned i = 0; i < 8 && n < 15; i++)
				b[n++] = (uint8_t)(a >> (8 * i));
			while (n < 15)
				b[n++] = (uint8_t)rnd();
			return n;
		}
	} else if (k < 62) { /* legacy SSE moves */
		static const uint8_t mp[] = {0, 0x66, 0xf3, 0xf2};
		uint8_t m = mp[rn(4)];
		if (m)
			b[n++] = m;
		if (mode64 && rn(2))
			b[n++] = (uint8_t)(0x40 | rn(16));
		b[n++] = 0x0f;
		b[n++] = vec_ops[rn(sizeof(vec_ops))];
	} else if (k < 84) { /* VEX */
		uint8_t pp = (uint8_t)rn(4), l = (uint8_t)rn(2),
			vvvv = rn(6) ? 0xf : (uint8_t)rn(16);
		if (rn(2)) {
			b[n++] = 0xc5;
			b[n++] = (uint8_t)((mode64 && rn(2) ? 0 : 0x80) | vvvv << 3 | l << 2 | pp);
		} else {
			b[n++] = 0xc4;
			b[n++] = (uint8_t)((mode64 ? rn(8) << 5 : 0xe0) | (rn(8) ? 1 : rn(4)));
			b[n++] = (uint8_t)((rn(4) == 0) << 7 | vvvv << 3 | l << 2 | pp);
		}
		b[n++] = vec_ops[rn(sizeof(vec_ops))];
	} else if (k < 95) { /* EVEX: compiled by the memo, never taken by the direct path */
		uint8_t pp = (uint8_t)rn(4), w = (uint8_t)rn(2), ll = (uint8_t)rn(3);
		uint8_t rxb = mode64 ? (uint8_t)rn(16) : 0xf, aaa = rn(4) ? 0 : (uint8_t)rn(8);
		b[n++] = 0x62;
		b[n++] = (uint8_t)((rxb << 4) | (rn(10) ? 1 : rn(4)));
		b[n++] = (uint8_t)(w << 7 | (rn(6) ? 0xf : rn(16)) << 3 | 4 | pp);
		b[n++] = (uint8_t)((rn(8) == 0) << 7 | ll << 5 | (rn(8) == 0) << 4 |
				   (mode64 && rn(4) == 0 ? 0 : 8) | aaa);
		b[n++] = vec_ops[rn(sizeof(vec_ops))];
	} else { /* something else: never the memo's */
		static const uint8_t other[][3] = {{0x01, 0},	 {0x8c, 0},   {0xc7, 0},
						   {0x0f, 0xb6}, {0xa4, 0},   {0x0f, 0x10},
						   {0x86, 0},	 {0x0f, 0xc7}};
		unsigned i = rn(8);
		b[n++] = other[i][0];
		if (other[i][1])
			b[n++] = other[i][1];
	}
	n += modrm_tail(b + n);
	while (n < 15)
		b[n++] = (uint8_t)rnd();
	return n;
}

/* A mode's registers: 0 64-bit, 1 compatibility, 2 32-bit protected, 3 16-bit protected,
 * 4 real, 5 virtual-8086; random segments, CR0.WP and RFLAGS.RF now and then. */
static void gen_mode(struct xg_emu_x86_regs *r, unsigned mode)
{
	int real = mode >= 4;

	r->cr0 = (real && mode == 4 ? 0x10 : 0x80000011ull) | (rn(2) ? 1ull << 16 : 0);
	r->efer = mode <= 1 ? 0x500 : 0;
	r->rflags = 0x2 | (rnd() & 0x8d5) | (rn(2) ? 1ull << 16 : 0) | (mode == 5 ? 1ull << 17 : 0);
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++)
		rnd_seg(&r->seg[i], real);
	r->seg[XG_EMU_X86_CS].type = 0xb;
	r->seg[XG_EMU_X86_CS].l = mode == 0;
	r->seg[XG_EMU_X86_CS].db = mode == 1 || mode == 2;
	if (real) {
		for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++) {
			r->seg[i].limit = 0xffff;
			r->seg[i].db = 0;
		}
	}
	if (mode == 5)
		r->seg[XG_EMU_X86_SS].dpl = 3;
}

/* One change to the registers between two exits, k of 0-12: what a compiled entry must be
 * checked against again (the mode, CR0.EM/TS, CR0.AM with RFLAGS.AC at CPL 3,
 * CR4.OSFXSR/OSXSAVE, LA57, XCR0, a segment, a limit, SS.DPL, EFER.LMA, CS.L, CS.D, AC). */
static void gen_mutate_regs(struct xg_emu_x86_regs *r, unsigned k)
{
	switch (k) {
	case 0:
		gen_mode(r, rn(6));
		break;
	case 1:
		r->cr0 ^= 1ull << (2 + rn(2)); /* EM, TS */
		break;
	case 2:
		r->cr0 ^= 1ull << 18; /* AM */
		r->rflags |= 1ull << 18;
		r->seg[XG_EMU_X86_SS].dpl = 3;
		break;
	case 3:
		r->cr4 ^= 1ull << (rn(2) ? 9 : 18);
		break;
	case 4:
		r->cr4 ^= 1ull << 12; /* LA57 */
		break;
	case 5:
		r->xcr0 = rn(2) ? 0x3 : rn(2) ? 0x7 : 0xe7;
		break;
	case 6:
		rnd_seg(&r->seg[rn(XG_EMU_X86_NSEG)], !(r->cr0 & 1));
		break;
	case 7:
		r->seg[rn(XG_EMU_X86_NSEG)].limit = rn(2) ? 0xffff : (uint32_t)rnd();
		break;
	case 8:
		r->seg[XG_EMU_X86_SS].dpl ^= 3;
		break;
	case 9:
		r->efer ^= 0x400; /* LMA: 64-bit <-> 32-bit under the same CS */
		break;
	case 10:
		r->seg[XG_EMU_X86_CS].l ^= 1;
		break;
	case 11:
		r->seg[XG_EMU_X86_CS].db ^= 1;
		break;
	default:
		r->rflags ^= 1ull << 18; /* AC */
		break;
	}
}

#endif
