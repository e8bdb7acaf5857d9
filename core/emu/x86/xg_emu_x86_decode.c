/*
 * xg_emu_x86_decode.c - bytes to struct xg_emu_x86_insn.
 *
 * Instruction format: SDM Vol. 2 chapter 2 (legacy prefixes 2.1.1, REX 2.2.1, ModRM/SIB
 * 2.1.5 Tables 2-1 to 2-3, RIP-relative 2.2.1.6, VEX 2.3.5, EVEX 2.7 and disp8*N 2.7.5).
 * The decoder reads at most 15 bytes and never past `n`; it asks the tables, not a switch, what
 * an opcode needs.
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86_tables.h"

/* Legacy prefix classes (SDM Vol. 2 2.1.1) */
enum { PK_NONE = 0, PK_SEG, PK_OPSIZE, PK_ADDR, PK_LOCK, PK_REP };
static const uint8_t prefix_kind[256] = {
    [0x26] = PK_SEG,  [0x2e] = PK_SEG, [0x36] = PK_SEG,	   [0x3e] = PK_SEG,
    [0x64] = PK_SEG,  [0x65] = PK_SEG, [0x66] = PK_OPSIZE, [0x67] = PK_ADDR,
    [0xf0] = PK_LOCK, [0xf2] = PK_REP, [0xf3] = PK_REP,
};
static const uint8_t prefix_seg[256] = {
    [0x26] = XG_EMU_X86_ES, [0x2e] = XG_EMU_X86_CS, [0x36] = XG_EMU_X86_SS,
    [0x3e] = XG_EMU_X86_DS, [0x64] = XG_EMU_X86_FS, [0x65] = XG_EMU_X86_GS,
};

/* 16-bit addressing, SDM Vol. 2 Table 2-1: base and index of each r/m value */
static const uint8_t rm16_base[8] = {XG_EMU_X86_RBX, XG_EMU_X86_RBX,   XG_EMU_X86_RBP,
				     XG_EMU_X86_RBP, XG_EMU_X86_NOREG, XG_EMU_X86_NOREG,
				     XG_EMU_X86_RBP, XG_EMU_X86_RBX};
static const uint8_t rm16_index[8] = {XG_EMU_X86_RSI,	XG_EMU_X86_RDI,	 XG_EMU_X86_RSI,
				      XG_EMU_X86_RDI,	XG_EMU_X86_RSI,	 XG_EMU_X86_RDI,
				      XG_EMU_X86_NOREG, XG_EMU_X86_NOREG};

/* VEX/EVEX map 1 opcodes that carry an imm8 (SDM Vol. 2 Table A-3) */
static const uint8_t vex_map1_imm8[256] = {
    [0x70 ... 0x73] = 1,
    [0xc2] = 1,
    [0xc4 ... 0xc6] = 1,
};
/* VSIB opcodes in map 0F38 (gathers, scatters, gather/scatter prefetches) */
static const uint8_t vsib_0f38[256] = {
    [0x90 ... 0x93] = 1,
    [0xa0 ... 0xa3] = 1,
    [0xc6 ... 0xc7] = 1,
};

/*
 * Forms of one-byte and 0F opcodes that no CPU defines, though the opcode exists: #UD. Found
 * by the CPU length probe (tests/emu/t_emu_length.c) and checked against the SDM's
 * instruction pages; a form some CPU defines stays decoded even where this one lacks the
 * feature or keeps it off (the probe counts those apart).
 * 0F AE and 0F C7: the defined ModRM.reg values (bit r) per mandatory prefix (none, 66, F3,
 * F2), for memory and register forms:
 *   0F AE mem  none: fxsave fxrstor ldmxcsr stmxcsr xsave xrstor xsaveopt clflush;
 *              66: /6 clwb, /7 clflushopt; F3: /4 ptwrite, /6 clrssbsy
 *   0F AE reg  none: /5 lfence, /6 mfence, /7 sfence; 66: /6 tpause; F3: /0-3
 *              rd/wr fs/gs base, /4 ptwrite, /5 incssp, /6 umonitor; F2: /6 umwait
 *   0F C7 mem  /1 cmpxchg8b/16b (any); none: /3 xrstors, /4 xsavec, /5 xsaves, /6 vmptrld,
 *              /7 vmptrst; 66: /6 vmclear; F3: /6 vmxon
 *   0F C7 reg  none and 66: /6 rdrand, /7 rdseed; F3: /6 senduipi, /7 rdpid
 */
/* the opcodes form_ud() judges, [map 1B, 0F][opcode]: one byte read on the common path */
static const uint8_t form_checked[2][256] = {
    [0] = {[0x8c] = 1, [0x8e] = 1, [0xc6] = 1, [0xc7] = 1},
    [1] = {[0x00] = 1,
	   [0x01] = 1,
	   [0x05] = 1,
	   [0x07] = 1,
	   [0x0d] = 1,
	   [0x0e] = 1,
	   [0x0f] = 1,
	   [0x20] = 1,
	   [0x21] = 1,
	   [0x22] = 1,
	   [0x23] = 1,
	   [0xae] = 1,
	   [0xb8] = 1,
	   [0xc7] = 1},
};
static const uint8_t grp15_mem[4] = {0xff, 0xc0, 0x50, 0x00};
static const uint8_t grp15_reg[4] = {0xe0, 0x40, 0x7f, 0x40};
static const uint8_t grp9_mem[4] = {0xfa, 0x42, 0x42, 0x02};
static const uint8_t grp9_reg[4] = {0xc0, 0xc0, 0xc0, 0x00};

static int form_ud(const struct xg_emu_x86_insn *in, unsigned mode, enum xg_emu_x86_vendor vendor)
{
	unsigned r = (in->modrm >> 3) & 7, reg3 = 1u << r, m3 = in->mod == 3;

	if (in->map == XG_EMU_X86_MAP_1B) {
		switch (in->opcode) {
		case 0x8c: /* mov r/m, Sreg: ES..GS only (SDM Vol. 2 MOV) */
			return r > 5;
		case 0x8e: /* mov Sreg, r/m: not CS either */
			return r > 5 || r == XG_EMU_X86_CS;
		case 0xc6: /* xabort is C6 F8 ib, xbegin C7 F8 cw/cd */
		case 0xc7:
			return m3 && r == 7 && (in->modrm & 7);
		}
		return 0;
	}
	if (in->map != XG_EMU_X86_MAP_0F)
		return 0;
	switch (in->opcode) {
	case 0x01: /* grp7: the memory form /5 is rstorssp (F3) only */
		return !m3 && r == 5 && in->pfx != 2;
	case 0x00: /* grp6: /6 is lkgs (F2), in 64-bit mode only (SDM Vol. 2 LKGS), /7
		    * nothing */
		return r == 7 || (r == 6 && (in->pfx != 3 || mode != 64));
	case 0x05: /* syscall, sysret: Intel has them in 64-bit mode only (the vendor list
		    * in xg_emu_x86.h) */
	case 0x07:
		return mode != 64 && vendor == XG_EMU_X86_VENDOR_INTEL;
	case 0x0d: /* the PREFETCH group (/0 PREFETCH, /1 PREFETCHW, the rest their aliases)
		    * takes a memory operand only on AMD: mod = 3 is #UD with every ModRM.reg
		    * and prefix (AMD APM Vol. 3 PREFETCH/PREFETCHW: "the operand was a
		    * register"; seen on an AMD EPYC (Zen 5)); Intel runs it as a NOP (the
		    * vendor list in xg_emu_x86.h) */
		return m3 && vendor != XG_EMU_X86_VENDOR_INTEL;
	case 0x0e: /* femms and 3DNow!: AMD before Zen only, #UD on Intel and on Zen */
	case 0x0f:
		return 1;
	case 0x20: /* mov to/from CR1, CR5-7, CR9-15: #UD (CR8 in 64-bit mode only) */
	case 0x22:
		return !(in->reg == 0 || (in->reg >= 2 && in->reg <= 4) ||
			 (in->reg == 8 && mode == 64));
	case 0x21: /* DR8-15 (DR4/5 depend on CR4.DE) */
	case 0x23:
		return in->reg > 7;
	case 0xae: /* F3 register forms /0-/3 are RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE: in
		    * 64-bit mode only (SDM Vol. 2 RDFSBASE/RDGSBASE, WRFSBASE/WRGSBASE) */
		if (m3 && in->pfx == 2 && r < 4 && mode != 64)
			return 1;
		return !((m3 ? grp15_reg : grp15_mem)[in->pfx] & reg3);
	case 0xb8: /* popcnt is F3 0F B8; without F3 it is IA-64's jmpe */
		return in->pfx != 2;
	case 0xc7:
		return !((m3 ? grp9_reg : grp9_mem)[in->pfx] & reg3);
	}
	return 0;
}

static const struct xg_emu_x86_opc *const map_table[4] = {
    xg_emu_x86_onebyte,
    xg_emu_x86_twobyte,
    xg_emu_x86_three38,
    xg_emu_x86_three3a,
};

struct cursor {
	const uint8_t *b;
	unsigned lim; /* min(n, 15): one compare per byte wanted */
	unsigned pos;
};

/* n <= 15 bytes, without a call to memcpy (each copy below is of a constant size) */
static inline void copy_insn(uint8_t *d, const uint8_t *s, unsigned n)
{
	if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else if (n) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

static uint64_t take(struct cursor *c, unsigned k)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < k; i++)
		v |= (uint64_t)c->b[c->pos + i] << (8 * i);
	c->pos += k;
	return v;
}

static int64_t sext(uint64_t v, unsigned bytes)
{
	unsigned sh = 64 - 8 * bytes;
	return (int64_t)(v << sh) >> sh;
}

/* disp8*N, SDM Vol. 2 Tables 2-34 and 2-35 */
static unsigned evex_n(unsigned tuple, const struct xg_emu_x86_insn *in)
{
	unsigned vl = 16u << in->vl;
	switch (tuple) {
	case T_FV:
		return in->bcast ? (in->w ? 8 : 4) : vl;
	case T_FV32:
		return in->bcast ? 4 : vl;
	case T_FVM:
		return vl;
	case T_HV:
		return in->bcast ? 4 : vl / 2;
	case T_HVM:
		return vl / 2;
	case T_QVM:
		return vl / 4;
	case T_OVM:
		return vl / 8;
	case T_M128:
		return 16;
	case T_DUP:
		return vl == 16 ? 8 : vl;
	case T_N1:
		return 1;
	case T_N2:
		return 2;
	case T_N4:
		return 4;
	case T_N8:
		return 8;
	case T_N16:
		return 16;
	case T_N32:
		return 32;
	case T_S_W:
		return in->w ? 8 : 4;
	case T_2_W:
		return in->w ? 16 : 8;
	case T_4_W:
		return in->w ? 32 : 16;
	}
	return 0;
}

/*
 * Does the opcode exist with this mandatory prefix, W and vector length? Undefined
 * entries of the 0F38 and 0F3A maps (SDM Vol. 2 Tables ), of the SIMD rows of
 * 0F (Table A-3: 10-17, 28-2F, 50-7F, C2, C4-C6, D0-FF; the rest of 0F is not judged here),
 * of the VEX maps and of the EVEX maps 1-3, 5 and 6 are #UD (SDM Vol. 2 2.3.8, 2.7.x: "#UD
 * if the opcode is not defined"). The tables are a union over CPUs: an opcode some CPU defines
 * exists here, even if this host lacks it. Outside 64-bit mode a W that picks a 64-bit GPR is
 * ignored, so W is not judged there; an EVEX register form with b = 1 holds a rounding control in
 * L'L (SDM Vol. 2 2.7.8), so L'L is not judged there.
 */
static int opcode_exists(const struct xg_emu_x86_insn *in)
{
	unsigned wl, op = in->opcode;

	if (in->enc == XG_EMU_X86_ENC_LEGACY)
		return (xg_emu_x86_valid_leg[in->map == XG_EMU_X86_MAP_0F ? 2 : in->map - 2u][op] >>
			in->pfx) &
		       1;
	if (in->enc == XG_EMU_X86_ENC_VEX) {
		wl = (xg_emu_x86_valid_vex[in->map - 1][op] >> (in->pfx * 4)) & 15;
		if (in->mode != 64)
			wl |= wl >> 2 | wl << 2;
		return (wl >> (in->w * 2 + in->vl)) & 1;
	}
	wl = (xg_emu_x86_valid_evex[in->map - 1][op] >> (in->pfx * 8)) & 0xff;
	if (in->mode != 64)
		wl |= wl >> 4 | wl << 4;
	wl = (wl >> (in->w * 4)) & 15;
	if (in->bcast && in->mod == 3)
		return wl != 0;
	return (wl >> in->vl) & 1;
}

/*
 * Is this form of a defined opcode defined: a memory or a register operand, this ModRM.reg
 * (group opcodes, SDM Vol. 2 Table A-6), a vvvv other than 1111b (SDM Vol. 2 2.3.6: "if an
 * instruction does not use VEX.vvvv then it should be set to 1111b otherwise instruction
 * will #UD"; the same for EVEX, 2.7.x, where V' extends vvvv unless it extends a VSIB
 * index)? Unioned over W, L and CPUs like opcode_exists().
 */
static int form_exists(const struct xg_emu_x86_insn *in)
{
	unsigned space, f;

	if (in->enc == XG_EMU_X86_ENC_LEGACY) {
		space = in->map == XG_EMU_X86_MAP_0F ? 11u : in->map - 2u;
	} else {
		space = in->enc == XG_EMU_X86_ENC_VEX ? 1u + in->map : 4u + in->map;
	}
	f = xg_emu_x86_valid_form[space][in->opcode][in->pfx];
	if ((in->vvvv & (in->vsib ? 15 : 31)) && !(f & XG_EMU_X86_FORM_VVVV))
		return 0;
	if (!in->has_modrm)
		return 1;
	if (!(f & (in->mod == 3 ? XG_EMU_X86_FORM_REG : XG_EMU_X86_FORM_MEM)))
		return 0;
	/* EVEX.b, z and aaa where no form of the opcode takes them (SDM Vol. 2 2.7.1, 2.7.8) */
	if (in->enc == XG_EMU_X86_ENC_EVEX &&
	    ((in->bcast && !(f & (in->mod == 3 ? XG_EMU_X86_FORM_BREG : XG_EMU_X86_FORM_BMEM))) ||
	     (in->z && !(f & XG_EMU_X86_FORM_Z)) || (in->aaa && !(f & XG_EMU_X86_FORM_MASK))))
		return 0;
	return (f >> ((in->modrm >> 3) & 7)) & 1;
}

#define FAIL_UD()                                                                                  \
	do {                                                                                       \
		exc->vector = XG_EMU_X86_UD;                                                       \
		return XG_EMU_X86_EXCEPTION;                                                       \
	} while (0)
/* `k` more bytes, or return: #GP(0) past 15 bytes (SDM Vol. 2 2.3.11), else TRUNCATED */
#define NEED(k)                                                                                    \
	do {                                                                                       \
		if (__builtin_expect(c.pos + (k) > c.lim, 0)) {                                    \
			if (c.pos + (k) <= 15)                                                     \
				return XG_EMU_X86_TRUNCATED;                                       \
			exc->vector = XG_EMU_X86_GP;                                               \
			exc->has_error = 1;                                                        \
			return XG_EMU_X86_EXCEPTION;                                               \
		}                                                                                  \
	} while (0)
#define NOT_HANDLED(...)                                                                           \
	do {                                                                                       \
		if (reason)                                                                        \
			snprintf(reason, 96, __VA_ARGS__);                                         \
		return XG_EMU_X86_NOT_HANDLED;                                                     \
	} while (0)

enum xg_emu_x86_status xg_emu_x86_decode(const uint8_t *bytes, size_t n, unsigned mode, int real,
					 struct xg_emu_x86_insn *in,
					 struct xg_emu_x86_exception *exc, char *reason)
{
	return xg_emu_x86_decode_vendor(bytes, n, mode, real, XG_EMU_X86_VENDOR_HOST, in, exc,
					reason);
}

enum xg_emu_x86_status xg_emu_x86_decode_vendor(const uint8_t *bytes, size_t n, unsigned mode,
						int real, enum xg_emu_x86_vendor vendor,
						struct xg_emu_x86_insn *in,
						struct xg_emu_x86_exception *exc, char *reason)
{
	struct xg_emu_x86_exception dummy;
	struct cursor c = {bytes, n > 15 ? 15 : (unsigned)n, 0};
	unsigned rex_r = 0, rex_x = 0, rex_b = 0, evex_r2 = 0, evex_v2 = 0, n_unknown = 0;
	unsigned seg = XG_EMU_X86_NSEG;
	const struct xg_emu_x86_opc *e;
	struct xg_emu_x86_opc synth; /* an entry made up here (arpl, unmodelled VEX/EVEX) */
	uint64_t flags;
	uint8_t b;

	if (!exc)
		exc = &dummy;
	memset(exc, 0, sizeof(*exc));
	/* the guest's vendor where the vendors decode differently (form_ud(), 66h near
	 * branches); any value but INTEL and AMD is the host's, as for the emulator
	 * (xg_emu_x86_begin) */
	if (vendor != XG_EMU_X86_VENDOR_INTEL && vendor != XG_EMU_X86_VENDOR_AMD)
		vendor = xg_emu_x86_host_vendor();
	memset(in, 0, sizeof(*in));
	if (reason)
		reason[0] = 0;
	in->mode = (uint8_t)mode;
	in->base = in->index = XG_EMU_X86_NOREG;

	/* legacy prefixes and REX (a REX followed by a legacy prefix is ignored) */
	for (;;) {
		unsigned kind;
		NEED(1);
		b = bytes[c.pos];
		if (mode == 64 && (b & 0xf0) == 0x40) {
			in->rex = b;
			c.pos++;
			continue;
		}
		kind = prefix_kind[b];
		if (kind == PK_NONE)
			break;
		switch (kind) {
		case PK_SEG:
			/* in 64-bit mode the ES, CS, SS and DS overrides are ignored (SDM Vol. 1
			 * 3.3.7.1, Vol. 2 2.1.1): a later one does not undo FS or GS, and the
			 * default segment (and so #SS or #GP) comes from the base register */
			if (mode != 64 || b == 0x64 || b == 0x65)
				seg = prefix_seg[b];
			break;
		case PK_OPSIZE:
			in->opsize_pfx = 1;
			break;
		case PK_ADDR:
			in->addr_pfx = 1;
			break;
		case PK_LOCK:
			in->lock = 1;
			break;
		case PK_REP:
			in->rep = b;
			break;
		}
		in->rex = 0;
		c.pos++;
	}
	if (in->rex) {
		in->w = (in->rex >> 3) & 1;
		rex_r = (in->rex >> 2) & 1;
		rex_x = (in->rex >> 1) & 1;
		rex_b = in->rex & 1;
	}
	if (in->rep | in->opsize_pfx)
		in->pfx = in->rep == 0xf3 ? 2 : in->rep == 0xf2 ? 3 : 1;

	/* opcode, after an escape or a VEX/EVEX prefix */
	b = bytes[c.pos++];
	if (b == 0x0f) {
		NEED(1);
		b = bytes[c.pos++];
		in->map = XG_EMU_X86_MAP_0F;
		if (b == 0x38 || b == 0x3a) {
			in->map = b == 0x38 ? XG_EMU_X86_MAP_0F38 : XG_EMU_X86_MAP_0F3A;
			NEED(1);
			b = bytes[c.pos++];
		}
	} else if ((b == 0xc4 || b == 0xc5 || b == 0x62) && !real) {
		NEED(1);
		uint8_t p0 = bytes[c.pos];
		if (mode == 64 || (p0 >> 6) == 3) {
			/* SDM Vol. 2 2.3.2: VEX after 66/F2/F3/LOCK/REX is #UD; the same for EVEX
			 */
			if (in->rex || in->opsize_pfx || in->rep || in->lock)
				FAIL_UD();
			if (b == 0xc5) {
				in->enc = XG_EMU_X86_ENC_VEX;
				rex_r = !(p0 & 0x80);
				in->vvvv = (~p0 >> 3) & 15;
				in->vl = (p0 >> 2) & 1;
				in->pfx = p0 & 3;
				in->map = XG_EMU_X86_MAP_0F;
				c.pos += 1;
			} else if (b == 0xc4) {
				NEED(2);
				uint8_t p1 = bytes[c.pos + 1];
				in->enc = XG_EMU_X86_ENC_VEX;
				rex_r = !(p0 & 0x80);
				rex_x = !(p0 & 0x40);
				rex_b = !(p0 & 0x20);
				if ((p0 & 31) < 1 || (p0 & 31) > 3)
					FAIL_UD();
				in->map = p0 & 31;
				in->w = p1 >> 7;
				in->vvvv = (~p1 >> 3) & 15;
				in->vl = (p1 >> 2) & 1;
				in->pfx = p1 & 3;
				c.pos += 2;
			} else {
				NEED(3);
				uint8_t p1 = bytes[c.pos + 1], p2 = bytes[c.pos + 2];
				in->enc = XG_EMU_X86_ENC_EVEX;
				if ((p0 & 8) || !(p1 & 4))
					FAIL_UD();
				/* maps 5 and 6 (AVX512-FP16) are decoded for their length: ModRM,
				 * no immediate (the AVX512-FP16 opcode maps 5 and 6) */
				if ((p0 & 7) < 1 || (p0 & 7) == 4 || (p0 & 7) == 7)
					FAIL_UD();
				rex_r = !(p0 & 0x80);
				rex_x = !(p0 & 0x40);
				rex_b = !(p0 & 0x20);
				evex_r2 = !(p0 & 0x10);
				in->map = p0 & 7;
				in->w = p1 >> 7;
				in->vvvv = (~p1 >> 3) & 15;
				in->pfx = p1 & 3;
				in->z = p2 >> 7;
				in->vl = (p2 >> 5) & 3;
				in->bcast = (p2 >> 4) & 1;
				evex_v2 = !(p2 & 8);
				in->aaa = p2 & 7;
				c.pos += 3;
			}
			in->vvvv_enc = (uint8_t)(in->vvvv | (evex_v2 << 4));
			/* outside 64-bit mode EVEX.V' = 0 would name one of zmm16-31, which do not
			 * exist there: #UD, whether or not the form uses vvvv (seen on the CPU) */
			if (mode != 64 && evex_v2)
				FAIL_UD();
			if (mode != 64) {
				/* outside 64-bit mode only 8 registers exist */
				rex_r = rex_x = rex_b = evex_r2 = evex_v2 = 0;
				in->vvvv &= 7;
			}
			in->vvvv |= evex_v2 << 4;
			NEED(1);
			b = bytes[c.pos++];
		}
	} else if (b == 0x8f) {
		/* 8F with ModRM.reg != 0: XOP on AMD family 15h only; #UD on every other CPU
		 * (Intel, and AMD since Zen), as POP r/m with a reserved /digit */
		NEED(1);
		if (bytes[c.pos] & 0x38)
			FAIL_UD();
	}
	in->opcode = b;
	in->seg = seg == XG_EMU_X86_NSEG ? XG_EMU_X86_DS : seg;
	in->seg_override = seg != XG_EMU_X86_NSEG;

	if (in->map > XG_EMU_X86_MAP_0F3A) {
		/* an FP16 map: nothing here is emulated, the length is what matters */
		static const struct xg_emu_x86_opc fp16 = {F_MODRM, OP_NONE, 0, "evex fp16"};
		e = &fp16;
	} else {
		e = &map_table[in->map][b];
	}
	flags = e->flags;
	if (in->enc != XG_EMU_X86_ENC_LEGACY) {
		/* VEX/EVEX length rules: SDM Vol. 2 2.3.5, 2.7 and Tables */
		flags = (in->map == XG_EMU_X86_MAP_0F && b == 0x77) ? 0 : F_MODRM;
		if (in->map == XG_EMU_X86_MAP_0F3A ||
		    (in->map == XG_EMU_X86_MAP_0F && vex_map1_imm8[b]))
			flags |= IMM(I_8);
		if (in->map == XG_EMU_X86_MAP_0F38 && vsib_0f38[b])
			in->vsib = 1;
	} else if (flags & F_UD) {
		if (in->map == XG_EMU_X86_MAP_0F && b == 0x0b)
			in->name = "ud2";
		FAIL_UD();
	}

	/* sizes */
	if (mode == 64) {
		in->addrsize = in->addr_pfx ? 4 : 8;
		if (in->w && in->enc == XG_EMU_X86_ENC_LEGACY)
			in->opsize = 8;
		else if ((flags & F_DEF64) && in->enc == XG_EMU_X86_ENC_LEGACY)
			in->opsize = in->opsize_pfx ? 2 : 8;
		else
			in->opsize = in->opsize_pfx ? 2 : 4;
	} else {
		unsigned def = mode == 32 ? 4 : 2, alt = mode == 32 ? 2 : 4;
		in->addrsize = in->addr_pfx ? alt : def;
		in->opsize = in->opsize_pfx ? alt : def;
	}

	/* ModRM, SIB, displacement */
	if (flags & F_MODRM) {
		NEED(1);
		in->has_modrm = 1;
		in->modrm = bytes[c.pos++];
		in->mod = in->modrm >> 6;
		in->reg = ((in->modrm >> 3) & 7) | (rex_r << 3) | (evex_r2 << 4);
		in->rm = (in->modrm & 7) | (rex_b << 3);
		if (in->enc == XG_EMU_X86_ENC_EVEX && in->mod == 3)
			in->rm |= rex_x << 4;
		if (flags & F_FORCEREG)
			in->mod = 3;
	}
	if (in->has_modrm && in->mod != 3) {
		unsigned dsize = 0;
		in->has_mem = 1;
		in->scale = 1;
		if (in->addrsize == 2) {
			unsigned rm = in->modrm & 7;
			/* VSIB needs a SIB byte, which 16-bit addressing has not: #UD (SDM
			 * Vol. 2 2.3.12; seen by the length probe with 67h in 32-bit mode) */
			if (in->vsib)
				FAIL_UD();
			if (in->mod == 0 && rm == 6) {
				dsize = 2;
			} else {
				in->base = rm16_base[rm];
				in->index = rm16_index[rm];
				dsize = in->mod == 1 ? 1 : in->mod == 2 ? 2 : 0;
			}
			if (in->base == XG_EMU_X86_RBP && seg == XG_EMU_X86_NSEG)
				in->seg = XG_EMU_X86_SS;
		} else {
			unsigned rm = in->modrm & 7;
			if (rm == 4) {
				NEED(1);
				uint8_t sib = bytes[c.pos++];
				unsigned idx = ((sib >> 3) & 7) | (rex_x << 3);
				in->scale = (uint8_t)(1u << (sib >> 6));
				if (in->vsib)
					in->index = (uint8_t)(idx | (evex_v2 << 4));
				else if (idx != 4)
					in->index = (uint8_t)idx;
				if ((sib & 7) == 5 && in->mod == 0)
					dsize = 4;
				else
					in->base = (uint8_t)((sib & 7) | (rex_b << 3));
			} else if (rm == 5 && in->mod == 0) {
				dsize = 4;
				in->rip_rel = mode == 64;
			} else {
				in->base = in->rm;
			}
			if (in->vsib && in->index == XG_EMU_X86_NOREG)
				in->index = 4;
			if (in->mod == 1)
				dsize = 1;
			else if (in->mod == 2)
				dsize = 4;
			if ((in->base == XG_EMU_X86_RSP || in->base == XG_EMU_X86_RBP) &&
			    seg == XG_EMU_X86_NSEG)
				in->seg = XG_EMU_X86_SS;
		}
		if (dsize) {
			NEED(dsize);
			in->disp = sext(take(&c, dsize), dsize);
		}
		if (in->vsib && !in->has_mem)
			FAIL_UD();
		/* VSIB needs a SIB byte (ModRM.rm = 100b); a gather (0F38 90-93) also needs its
		 * destination, index and (VEX) mask registers all different (SDM Vol. 2 2.3.12
		 * and the exception conditions of VPGATHERDD/VGATHERDPS and their EVEX forms) */
		if (in->vsib && (in->modrm & 7) != 4)
			FAIL_UD();
		if (in->vsib && in->opcode >= 0x90 && in->opcode <= 0x93 &&
		    (in->reg == in->index || (in->enc == XG_EMU_X86_ENC_VEX &&
					      (in->vvvv == in->reg || in->vvvv == in->index))))
			FAIL_UD();
	} else if (in->vsib && in->has_modrm) {
		FAIL_UD(); /* VSIB needs a memory operand */
	}

	if (in->map != XG_EMU_X86_MAP_1B && (!opcode_exists(in) || !form_exists(in)))
		FAIL_UD();

	/* groups, mandatory-prefix tables, x87 escapes */
	if (in->enc == XG_EMU_X86_ENC_LEGACY) {
		if (flags & F_GROUP) {
			uint64_t keep = flags & F_NO64;
			e = &xg_emu_x86_groups[e->aux]
					      [((in->modrm >> 3) & 7) + (in->mod == 3 ? 8 : 0)];
			flags = e->flags | keep;
			if (flags & F_UD)
				FAIL_UD();
			/* push/pop/call/jmp r/m default to 64 bits (SDM Vol. 1 3.6.1) */
			if (mode == 64 && (flags & F_DEF64) && !in->w)
				in->opsize = in->opsize_pfx ? 2 : 8;
		}
		if (flags & F_PREFIX) {
			e = &xg_emu_x86_prefixed[e->aux][in->pfx];
			flags = e->flags;
			if ((flags & F_UD) || ((flags & F_SSE) && !(flags & F_LEG)))
				FAIL_UD();
		}
		if (flags & F_X87) {
			unsigned esc = b - 0xd8, r = (in->modrm >> 3) & 7;
			if (in->mod != 3 && (xg_emu_x86_x87_ud[esc] >> r) & 1)
				FAIL_UD();
			if (in->mod == 3 && (xg_emu_x86_x87_reg_ud[esc] >> (in->modrm & 63)) & 1)
				FAIL_UD();
			if (in->mod != 3 && xg_emu_x86_x87_mem[esc][r]) {
				in->op = OP_X87;
				in->name = "x87";
				in->flags = flags;
				in->aux = xg_emu_x86_x87_mem[esc][r] - 1;
			}
		}
		if ((flags & F_NO64) && mode == 64)
			FAIL_UD();
		if ((flags & F_MEM) && in->mod == 3 && in->has_modrm)
			FAIL_UD();
		/* A 66-prefixed near branch in 64-bit mode: REX.W overrides 66 (rel32) on every
		 * CPU; without it Intel ignores 66 (rel32, RIP not truncated) and AMD takes a
		 * rel16 and truncates RIP to 16 bits (the vendor list in xg_emu_x86.h). The
		 * branches are not emulated; their length follows the guest's vendor. */
		if ((flags & F_REL) && (flags & F_DEF64) && mode == 64 && in->opsize_pfx &&
		    (in->w || vendor == XG_EMU_X86_VENDOR_INTEL))
			in->opsize = 4;
		/* LOCK: #UD unless the instruction is lockable and its destination is memory
		 * (SDM Vol. 2 LOCK) */
		if (in->lock && (!(flags & F_LOCK) || !in->has_mem))
			FAIL_UD();
		if (in->map == XG_EMU_X86_MAP_1B && b == 0x63 && mode != 64) {
			synth = (struct xg_emu_x86_opc){F_MODRM, OP_NONE, 0, "arpl"};
			e = &synth;
		}
		if (flags & F_BYTE)
			in->opsize = 1;
		/* MOVNTI has no 16-bit form: NP 0F C3 is m32, r32 (m64, r64 with REX.W) in
		 * every mode, so 32 bits in 16-bit mode too (SDM Vol. 2 MOVNTI) */
		if (e->op == OP_MOVNTI && in->opsize == 2)
			in->opsize = 4;
		if (in->map <= XG_EMU_X86_MAP_0F && form_checked[in->map][b] &&
		    form_ud(in, mode, vendor))
			FAIL_UD();
	} else {
		const struct xg_emu_x86_opc *p = NULL;
		uint64_t ok = in->enc == XG_EMU_X86_ENC_VEX ? F_VEXOK : F_EVEXOK;
		if (e->flags & F_PREFIX)
			p = &xg_emu_x86_prefixed[e->aux][in->pfx];
		if (in->map > XG_EMU_X86_MAP_0F3A) {
			synth = *e;
			e = &synth;
		} else if (p && (p->flags & ok)) {
			e = p;
			flags =
			    (flags & (F_MODRM | F_IMM_MASK)) | (p->flags & ~(F_MODRM | F_IMM_MASK));
		} else {
			synth = (struct xg_emu_x86_opc){
			    flags, OP_NONE, 0, in->enc == XG_EMU_X86_ENC_VEX ? "vex" : "evex"};
			e = &synth;
		}
		in->w_enc = in->w;
		/* W picks a 64-bit GPR/memory operand for (v)movd/movq, pinsrd/q, pextrd/q: only
		 * in 64-bit mode; elsewhere W1 is W0, for the operand size and for disp8*N too
		 * (SDM Vol. 2 MOVD/MOVQ, PINSRD/Q, PEXTRD/Q; seen on the CPU) */
		if (mode != 64 && in->pfx == 1 &&
		    ((in->map == XG_EMU_X86_MAP_0F && (b == 0x6e || b == 0x7e)) ||
		     (in->map == XG_EMU_X86_MAP_0F3A && (b == 0x16 || b == 0x22))))
			in->w = 0;
		/* the same for (v)cvtsi2ss/sd and (v)cvt(t)ss/sd2si (SDM Vol. 2 CVTSI2SS ...) */
		if (mode != 64 && in->pfx >= 2 && in->map == XG_EMU_X86_MAP_0F &&
		    (b == 0x2a || b == 0x2c || b == 0x2d))
			in->w = 0;
		if (in->enc == XG_EMU_X86_ENC_EVEX && in->has_mem &&
		    in->map > XG_EMU_X86_MAP_0F3A) {
			/* FP16 maps: disp8*N of the opcodes run in a host stub; for the others it
			 * is not modelled (op NONE, the length is right) */
			unsigned nn = xg_emu_x86_stub_disp8n(in);
			if (in->mod == 1 && nn && in->vl != 3) {
				in->disp8n = (uint8_t)nn;
				in->disp *= nn;
			} else if (in->mod == 1) {
				n_unknown = 1;
			}
		} else if (in->enc == XG_EMU_X86_ENC_EVEX && in->has_mem) {
			unsigned t = xg_emu_x86_evex_tuple[in->map - 1][b][in->pfx];
			if (in->mod == 1) {
				unsigned nn = evex_n(t, in);
				if (!nn)
					nn = xg_emu_x86_stub_disp8n(in);
				/* N unknown: the length is still right, the operand is not; the
				 * instruction is then not supported (op NONE below) */
				if (!nn || in->vl == 3) {
					n_unknown = 1;
				} else {
					in->disp8n = (uint8_t)nn;
					in->disp *= nn;
				}
			}
		}
	}

	/* immediates */
	switch ((flags & F_IMM_MASK) >> F_IMM_SHIFT) {
	case I_NONE:
		break;
	case I_8:
		NEED(1);
		in->imm = (uint64_t)sext(take(&c, 1), 1);
		in->imm_size = 1;
		break;
	case I_16:
		NEED(2);
		in->imm = take(&c, 2);
		in->imm_size = 2;
		break;
	case I_Z: {
		unsigned k = in->opsize == 2 ? 2 : 4;
		NEED(k);
		in->imm = (uint64_t)sext(take(&c, k), k);
		in->imm_size = (uint8_t)k;
		break;
	}
	case I_V:
		NEED(in->opsize);
		in->imm = take(&c, in->opsize);
		in->imm_size = in->opsize;
		break;
	case I_16_8:
		NEED(3);
		in->imm = take(&c, 2);
		in->imm2 = (uint8_t)take(&c, 1);
		in->imm_size = 2;
		break;
	case I_FAR:
		NEED(in->opsize + 2u);
		in->imm = take(&c, in->opsize);
		in->imm2 = 0;
		c.pos += 2;
		in->imm_size = in->opsize;
		break;
	case I_MOFFS:
		NEED(in->addrsize);
		in->disp = (int64_t)take(&c, in->addrsize);
		in->has_mem = 1;
		in->scale = 1;
		break;
	case I_8_8:
		NEED(2);
		in->imm = take(&c, 2);
		in->imm_size = 2;
		break;
	}

	in->len = (uint8_t)c.pos;
	copy_insn(in->bytes, bytes, c.pos);
	if (in->op != OP_X87) {
		in->op = e->op;
		in->aux = e->aux;
		in->flags = flags;
	}
	if (in->op == OP_NONE && !n_unknown)
		xg_emu_x86_gp2_claim(in);
	if (!n_unknown && in->op == OP_NONE)
		xg_emu_x86_stub_classify(in);
	if (n_unknown) {
		in->op = OP_NONE;
		if (reason)
			snprintf(reason, 96, "EVEX disp8*N unknown for map %u opcode %02x", in->map,
				 b);
		return XG_EMU_X86_OK;
	}
	if (!in->name)
		in->name = e->name;
	if (in->op == OP_NONE && reason)
		snprintf(reason, 96, "%s (%s%s%02x) not implemented",
			 in->name ? in->name : "opcode",
			 in->enc == XG_EMU_X86_ENC_VEX	  ? "VEX "
			 : in->enc == XG_EMU_X86_ENC_EVEX ? "EVEX "
							  : "",
			 in->map == 1	? "0f "
			 : in->map == 2 ? "0f38 "
			 : in->map == 3 ? "0f3a "
					: "",
			 b);
	(void)rex_x;
	return XG_EMU_X86_OK;
}

int xg_emu_x86_supported(const struct xg_emu_x86_insn *insn)
{
	if (insn->op == OP_STUB) /* the host must be able to run it */
		return xg_emu_x86_stub_host_ok(insn);
	if (insn->op == OP_GP2) /* likewise a form run as the host's own instruction */
		return xg_emu_x86_gp2_host_ok(insn);
	return insn->op != OP_NONE;
}
