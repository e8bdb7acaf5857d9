/*
 * xg_emu_arm64_decode.c - the A64 load/store encoding space, table-driven.
 *
 * The classes are the rows of the ARM ARM's "Loads and Stores" encoding table (C4.1.66 in
 * DDI 0487 J.a; op0 = x1x0 at bits 28:25): a row is a mask and a value over the word, and the
 * first row that matches names the class. Inside a class, size/opc/V choose the access from
 * small tables (C6.2 gives the same per instruction). A word in the load/store space that no
 * row allocates is UNDEFINED.
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_arm64.h"

enum form {
	F_STRUCT,   /* Advanced SIMD load/store multiple or single structure(s) */
	F_EXCL,	    /* exclusive, ordered, compare-and-swap */
	F_RCPC_MTE, /* LDAPUR/STLUR unscaled, MTE tag instructions */
	F_LITERAL,  /* load register (literal) */
	F_PAIR,	    /* load/store pair, all modes */
	F_UNSCALED, /* LDUR/STUR */
	F_POST,	    /* immediate post-indexed */
	F_UNPRIV,   /* LDTR/STTR */
	F_PRE,	    /* immediate pre-indexed */
	F_ATOMIC,   /* LSE atomic memory operations, LDAPR */
	F_REGOFF,   /* register offset */
	F_PAC,	    /* LDRAA/LDRAB */
	F_UIMM,	    /* unsigned immediate offset */
};

/* ARM ARM C4.1.66: each row is (word & mask) == value; first match. */
static const struct {
	uint32_t mask, value;
	uint8_t form;
} rows[] = {
    {0xbe000000, 0x0c000000, F_STRUCT},	  /* 0q00 110x: LD1-4/ST1-4, LDnR */
    {0x3f000000, 0x08000000, F_EXCL},	  /* xx00 1000 */
    {0x3f000000, 0x19000000, F_RCPC_MTE}, /* xx01 1001 */
    {0x3b000000, 0x18000000, F_LITERAL},  /* xx01 1v00 */
    {0x3a000000, 0x28000000, F_PAIR},	  /* xx10 1v0x */
    {0x3b200c00, 0x38000000, F_UNSCALED}, /* xx11 1v00, bit 21 = 0, op4 = 00 */
    {0x3b200c00, 0x38000400, F_POST},	  /* op4 = 01 */
    {0x3b200c00, 0x38000800, F_UNPRIV},	  /* op4 = 10 */
    {0x3b200c00, 0x38000c00, F_PRE},	  /* op4 = 11 */
    {0x3b200c00, 0x38200000, F_ATOMIC},	  /* bit 21 = 1, op4 = 00 */
    {0x3b200c00, 0x38200800, F_REGOFF},	  /* bit 21 = 1, op4 = 10 */
    {0x3b200400, 0x38200400, F_PAC},	  /* bit 21 = 1, op4 = x1 */
    {0x3b000000, 0x39000000, F_UIMM},	  /* xx11 1v01 */
};

/* One access of the single-register forms, by [V][size][opc] (C6.2, LDR/STR (immediate)). */
enum { A_UNALLOC = 0, A_LOAD, A_STORE, A_PRFM };
struct acc {
	uint8_t kind, size, regsize, sign;
};
static const struct acc single_acc[2][4][4] = {
    {
	/* general registers */
	{{A_STORE, 1, 4, 0}, {A_LOAD, 1, 4, 0}, {A_LOAD, 1, 8, 1}, {A_LOAD, 1, 4, 1}},
	{{A_STORE, 2, 4, 0}, {A_LOAD, 2, 4, 0}, {A_LOAD, 2, 8, 1}, {A_LOAD, 2, 4, 1}},
	{{A_STORE, 4, 4, 0}, {A_LOAD, 4, 4, 0}, {A_LOAD, 4, 8, 1}, {A_UNALLOC, 0, 0, 0}},
	{{A_STORE, 8, 8, 0}, {A_LOAD, 8, 8, 0}, {A_PRFM, 8, 8, 0}, {A_UNALLOC, 0, 0, 0}},
    },
    {
	/* SIMD&FP: B, H, S, D, and Q at size 00 with opc<1> set */
	{{A_STORE, 1, 1, 0}, {A_LOAD, 1, 1, 0}, {A_STORE, 16, 16, 0}, {A_LOAD, 16, 16, 0}},
	{{A_STORE, 2, 2, 0}, {A_LOAD, 2, 2, 0}, {A_UNALLOC, 0, 0, 0}, {A_UNALLOC, 0, 0, 0}},
	{{A_STORE, 4, 4, 0}, {A_LOAD, 4, 4, 0}, {A_UNALLOC, 0, 0, 0}, {A_UNALLOC, 0, 0, 0}},
	{{A_STORE, 8, 8, 0}, {A_LOAD, 8, 8, 0}, {A_UNALLOC, 0, 0, 0}, {A_UNALLOC, 0, 0, 0}},
    },
};

/* Mnemonics of the general-register forms by [family][size][opc]: LDR, LDUR, LDTR. */
static const char *const gpr_names[3][4][4] = {
    {{"strb", "ldrb", "ldrsb", "ldrsb"},
     {"strh", "ldrh", "ldrsh", "ldrsh"},
     {"str", "ldr", "ldrsw", NULL},
     {"str", "ldr", "prfm", NULL}},
    {{"sturb", "ldurb", "ldursb", "ldursb"},
     {"sturh", "ldurh", "ldursh", "ldursh"},
     {"stur", "ldur", "ldursw", NULL},
     {"stur", "ldur", "prfum", NULL}},
    {{"sttrb", "ldtrb", "ldtrsb", "ldtrsb"},
     {"sttrh", "ldtrh", "ldtrsh", "ldtrsh"},
     {"sttr", "ldtr", "ldtrsw", NULL},
     {"sttr", "ldtr", NULL, NULL}},
};

/* LDAR/STLR/LDLAR/STLLR by [o0][L][size]. */
static const char *const ordered_names[2][2][4] = {
    {{"stllrb", "stllrh", "stllr", "stllr"}, {"ldlarb", "ldlarh", "ldlar", "ldlar"}},
    {{"stlrb", "stlrh", "stlr", "stlr"}, {"ldarb", "ldarh", "ldar", "ldar"}},
};
/* Exclusives by [L][o0][size]. */
static const char *const excl_names[2][2][4] = {
    {{"stxrb", "stxrh", "stxr", "stxr"}, {"stlxrb", "stlxrh", "stlxr", "stlxr"}},
    {{"ldxrb", "ldxrh", "ldxr", "ldxr"}, {"ldaxrb", "ldaxrh", "ldaxr", "ldaxr"}},
};
/* LSE atomics and CAS by [operation][A:R or L:o0][size]: LDADD...LDUMIN (opc), SWP, CAS. */
static const char *const atomic_names[10][4][4] = {
    {{"ldaddb", "ldaddh", "ldadd", "ldadd"},
     {"ldaddlb", "ldaddlh", "ldaddl", "ldaddl"},
     {"ldaddab", "ldaddah", "ldadda", "ldadda"},
     {"ldaddalb", "ldaddalh", "ldaddal", "ldaddal"}},
    {{"ldclrb", "ldclrh", "ldclr", "ldclr"},
     {"ldclrlb", "ldclrlh", "ldclrl", "ldclrl"},
     {"ldclrab", "ldclrah", "ldclra", "ldclra"},
     {"ldclralb", "ldclralh", "ldclral", "ldclral"}},
    {{"ldeorb", "ldeorh", "ldeor", "ldeor"},
     {"ldeorlb", "ldeorlh", "ldeorl", "ldeorl"},
     {"ldeorab", "ldeorah", "ldeora", "ldeora"},
     {"ldeoralb", "ldeoralh", "ldeoral", "ldeoral"}},
    {{"ldsetb", "ldseth", "ldset", "ldset"},
     {"ldsetlb", "ldsetlh", "ldsetl", "ldsetl"},
     {"ldsetab", "ldsetah", "ldseta", "ldseta"},
     {"ldsetalb", "ldsetalh", "ldsetal", "ldsetal"}},
    {{"ldsmaxb", "ldsmaxh", "ldsmax", "ldsmax"},
     {"ldsmaxlb", "ldsmaxlh", "ldsmaxl", "ldsmaxl"},
     {"ldsmaxab", "ldsmaxah", "ldsmaxa", "ldsmaxa"},
     {"ldsmaxalb", "ldsmaxalh", "ldsmaxal", "ldsmaxal"}},
    {{"ldsminb", "ldsminh", "ldsmin", "ldsmin"},
     {"ldsminlb", "ldsminlh", "ldsminl", "ldsminl"},
     {"ldsminab", "ldsminah", "ldsmina", "ldsmina"},
     {"ldsminalb", "ldsminalh", "ldsminal", "ldsminal"}},
    {{"ldumaxb", "ldumaxh", "ldumax", "ldumax"},
     {"ldumaxlb", "ldumaxlh", "ldumaxl", "ldumaxl"},
     {"ldumaxab", "ldumaxah", "ldumaxa", "ldumaxa"},
     {"ldumaxalb", "ldumaxalh", "ldumaxal", "ldumaxal"}},
    {{"lduminb", "lduminh", "ldumin", "ldumin"},
     {"lduminlb", "lduminlh", "lduminl", "lduminl"},
     {"lduminab", "lduminah", "ldumina", "ldumina"},
     {"lduminalb", "lduminalh", "lduminal", "lduminal"}},
    {{"swpb", "swph", "swp", "swp"},
     {"swplb", "swplh", "swpl", "swpl"},
     {"swpab", "swpah", "swpa", "swpa"},
     {"swpalb", "swpalh", "swpal", "swpal"}},
    {{"casb", "cash", "cas", "cas"},
     {"caslb", "caslh", "casl", "casl"},
     {"casab", "casah", "casa", "casa"},
     {"casalb", "casalh", "casal", "casal"}},
};
static const char *const casp_names[4] = {"casp", "caspl", "caspa", "caspal"};
static const char *const ldapr_names[4] = {"ldaprb", "ldaprh", "ldapr", "ldapr"};

static int64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ull << (bits - 1);

	v &= (m << 1) - 1;
	return (int64_t)((v ^ m) - m);
}

static unsigned log2u(unsigned v)
{
	unsigned n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static enum xg_emu_arm64_status undef(struct xg_emu_arm64_exception *exc, char *reason,
				      const char *what)
{
	/* ESR_ELx.EC = 0 (Unknown reason), IL = 1: how an unallocated encoding is reported
	 * (ARM ARM D1.10.4, "Undefined instruction"). */
	exc->esr = (uint32_t)XG_EMU_ARM64_EC_UNKNOWN << 26 | 1u << 25;
	exc->far = 0;
	if (reason)
		snprintf(reason, 96, "undefined: %s", what);
	return XG_EMU_ARM64_EXCEPTION;
}

static enum xg_emu_arm64_status not_handled(struct xg_emu_arm64_insn *in, char *reason, uint8_t cls,
					    const char *name, const char *why)
{
	in->cls = cls;
	in->name = name;
	if (reason)
		snprintf(reason, 96, "not handled: %s", why);
	return XG_EMU_ARM64_NOT_HANDLED;
}

/* LDR/STR (immediate, register), LDUR/STUR, LDTR/STTR. */
static enum xg_emu_arm64_status decode_single(uint32_t w, enum form form,
					      struct xg_emu_arm64_insn *in,
					      struct xg_emu_arm64_exception *exc, char *reason)
{
	unsigned size = w >> 30, v = (w >> 26) & 1, opc = (w >> 22) & 3;
	const struct acc *a = &single_acc[v][size][opc];
	unsigned fam = form == F_UNSCALED ? 1 : form == F_UNPRIV ? 2 : 0;

	if (a->kind == A_UNALLOC || (form == F_UNPRIV && (v || a->kind == A_PRFM)))
		return undef(exc, reason, "unallocated load/store register encoding");
	in->cls = a->kind == A_PRFM ? XG_EMU_ARM64_C_PREFETCH : XG_EMU_ARM64_C_SINGLE;
	in->load = a->kind == A_LOAD;
	in->fp = v;
	in->size = a->size;
	in->regsize = a->regsize;
	in->sign = a->sign;
	in->unpriv = form == F_UNPRIV;
	if (v)
		in->name = in->load ? (fam ? "ldur" : "ldr") : (fam ? "stur" : "str");
	else
		in->name = gpr_names[fam][size][opc];

	switch (form) {
	case F_UIMM:
		in->index = XG_EMU_ARM64_OFFSET;
		in->imm = (int64_t)(((w >> 10) & 0xfff) << log2u(a->size));
		break;
	case F_REGOFF:
		if (!((w >> 14) & 1)) /* option<1> = 0 */
			return undef(exc, reason, "register offset with extend option<1> = 0");
		in->index = XG_EMU_ARM64_REGOFF;
		in->rm = (w >> 16) & 31;
		in->extend = (w >> 13) & 7;
		in->shift_given = (w >> 12) & 1;
		in->shift = in->shift_given ? log2u(a->size) : 0;
		break;
	default:
		in->index = form == F_POST  ? XG_EMU_ARM64_POST
			    : form == F_PRE ? XG_EMU_ARM64_PRE
					    : XG_EMU_ARM64_OFFSET;
		in->imm = sext(w >> 12, 9);
		if (a->kind == A_PRFM && form != F_UNSCALED)
			return undef(exc, reason, "prefetch with writeback");
	}
	return XG_EMU_ARM64_OK;
}

static enum xg_emu_arm64_status decode_pair(uint32_t w, struct xg_emu_arm64_insn *in,
					    struct xg_emu_arm64_exception *exc, char *reason)
{
	unsigned opc = w >> 30, v = (w >> 26) & 1, mode = (w >> 23) & 3, l = (w >> 22) & 1;
	static const uint8_t modes[4] = {XG_EMU_ARM64_OFFSET, XG_EMU_ARM64_POST,
					 XG_EMU_ARM64_OFFSET, XG_EMU_ARM64_PRE};

	if (opc == 3)
		return undef(exc, reason, "load/store pair with opc = 11");
	in->load = l;
	in->fp = v;
	in->rt2 = (w >> 10) & 31;
	in->index = modes[mode];
	if (v) {
		in->size = (uint8_t)(4u << opc);
		in->regsize = in->size;
	} else if (opc == 1) {
		if (!l)
			return not_handled(in, reason, XG_EMU_ARM64_C_OTHER, "stgp",
					   "STGP (memory tagging)");
		if (mode == 0)
			return undef(exc, reason, "LDNP with opc = 01");
		in->size = 4;
		in->regsize = 8;
		in->sign = 1;
	} else {
		in->size = opc ? 8 : 4;
		in->regsize = in->size;
	}
	in->cls = XG_EMU_ARM64_C_PAIR;
	in->imm = sext(w >> 15, 7) * in->size;
	if (in->sign)
		in->name = "ldpsw";
	else if (mode == 0)
		in->name = l ? "ldnp" : "stnp";
	else
		in->name = l ? "ldp" : "stp";
	return XG_EMU_ARM64_OK;
}

static enum xg_emu_arm64_status decode_literal(uint32_t w, struct xg_emu_arm64_insn *in,
					       struct xg_emu_arm64_exception *exc, char *reason)
{
	unsigned opc = w >> 30, v = (w >> 26) & 1;

	in->index = XG_EMU_ARM64_LITERAL;
	in->imm = sext(w >> 5, 19) * 4;
	in->load = 1;
	in->fp = v;
	in->name = "ldr";
	in->cls = XG_EMU_ARM64_C_SINGLE;
	if (v) {
		if (opc == 3)
			return undef(exc, reason, "SIMD&FP load literal with opc = 11");
		in->size = (uint8_t)(4u << opc);
		in->regsize = in->size;
		return XG_EMU_ARM64_OK;
	}
	switch (opc) {
	case 0:
	case 1:
		in->size = in->regsize = opc ? 8 : 4;
		break;
	case 2:
		in->size = 4;
		in->regsize = 8;
		in->sign = 1;
		in->name = "ldrsw";
		break;
	default:
		in->cls = XG_EMU_ARM64_C_PREFETCH;
		in->name = "prfm";
		in->load = 0;
		in->size = in->regsize = 8;
	}
	return XG_EMU_ARM64_OK;
}

static enum xg_emu_arm64_status decode_excl(uint32_t w, struct xg_emu_arm64_insn *in,
					    struct xg_emu_arm64_exception *exc, char *reason)
{
	unsigned size = w >> 30, o2 = (w >> 23) & 1, l = (w >> 22) & 1, o1 = (w >> 21) & 1;
	unsigned o0 = (w >> 15) & 1;

	(void)exc;
	in->rs = (w >> 16) & 31;
	in->rt2 = (w >> 10) & 31;
	in->load = l;
	if (o2 && !o1) {
		/* LDAR/STLR (o0 = 1), LDLAR/STLLR (o0 = 0, FEAT_LOR): single-copy atomic,
		 * naturally aligned accesses (ARM ARM B2.3, C6.2 LDAR). Rs and Rt2 are
		 * should-be-one fields: other values are CONSTRAINED UNPREDICTABLE, and the
		 * emulator takes the architecturally preferred reading, ignoring them. */
		in->cls = XG_EMU_ARM64_C_SINGLE;
		in->size = (uint8_t)(1u << size);
		in->regsize = size == 3 ? 8 : 4;
		in->acqrel = 1;
		in->index = XG_EMU_ARM64_OFFSET;
		in->name = ordered_names[o0][l][size];
		return XG_EMU_ARM64_OK;
	}
	in->size = (uint8_t)(1u << size);
	if (o1) {
		/* CAS (o2 = 1) and CASP (o2 = 0, size 0x), FEAT_LSE: a read-modify-write that
		 * writes only when the compare succeeds (C6.2 CAS, CASP). Rt2 should be ones
		 * (ignored, as for LDAR). CASP needs even Rs and Rt. */
		unsigned ord = l << 1 | o0;

		in->cls = XG_EMU_ARM64_C_ATOMIC;
		in->load = 1;
		in->aop = XG_EMU_ARM64_AOP_CAS;
		in->acqrel = 1;
		in->index = XG_EMU_ARM64_OFFSET;
		if (o2) {
			in->regsize = size == 3 ? 8 : 4;
			in->name = atomic_names[9][ord][size];
			return XG_EMU_ARM64_OK;
		}
		if (size >= 2)
			return not_handled(in, reason, XG_EMU_ARM64_C_EXCLUSIVE,
					   l ? "ldxp" : "stxp",
					   "exclusive load/store pair (no exclusive monitor on a "
					   "device)");
		if ((in->rs & 1) || (in->rt & 1))
			return undef(exc, reason, "CASP with an odd Rs or Rt");
		in->aop = XG_EMU_ARM64_AOP_CASP;
		in->size = size ? 8 : 4;
		in->regsize = in->size;
		in->name = casp_names[ord];
		return XG_EMU_ARM64_OK;
	}
	if (!o2 && !o1)
		return not_handled(in, reason, XG_EMU_ARM64_C_EXCLUSIVE, excl_names[l][o0][size],
				   "exclusive load/store (a device has no exclusive monitor)");
	if (!o2 && size >= 2)
		return not_handled(in, reason, XG_EMU_ARM64_C_EXCLUSIVE, l ? "ldxp" : "stxp",
				   "exclusive load/store pair (no exclusive monitor on a device)");
	return not_handled(in, reason, XG_EMU_ARM64_C_ATOMIC, o2 ? "cas" : "casp",
			   "compare and swap (CAS/CASP)");
}

static enum xg_emu_arm64_status decode_atomic(uint32_t w, struct xg_emu_arm64_insn *in,
					      struct xg_emu_arm64_exception *exc, char *reason)
{
	unsigned size = w >> 30, v = (w >> 26) & 1, a = (w >> 23) & 1, r = (w >> 22) & 1;
	unsigned o3 = (w >> 15) & 1, opc = (w >> 12) & 7, rs = (w >> 16) & 31;

	if (v)
		return undef(exc, reason, "atomic memory operation with V = 1");
	if (o3 && opc == 4) {
		if (!a || r || rs != 31)
			return undef(exc, reason, "unallocated LDAPR encoding");
		/* LDAPR (FEAT_LRCPC): a load-acquire, RCpc; for one access the same as LDAR */
		in->cls = XG_EMU_ARM64_C_SINGLE;
		in->load = 1;
		in->size = (uint8_t)(1u << size);
		in->regsize = size == 3 ? 8 : 4;
		in->acqrel = 1;
		in->index = XG_EMU_ARM64_OFFSET;
		in->name = ldapr_names[size];
		return XG_EMU_ARM64_OK;
	}
	if (o3 && opc != 0) {
		if (size == 3 && (opc == 1 || opc == 2 || opc == 3 || opc == 5) && !a && !r)
			return not_handled(in, reason, XG_EMU_ARM64_C_OTHER, "ld64b",
					   "64-byte load/store (FEAT_LS64)");
		return undef(exc, reason, "unallocated atomic memory operation");
	}
	/* LDADD/LDCLR/LDEOR/LDSET/LDSMAX/LDSMIN/LDUMAX/LDUMIN (o3 = 0, by opc) and SWP
	 * (o3 = 1, opc = 000), FEAT_LSE: read-modify-write, Rt gets the old value (C6.2) */
	in->rs = (uint8_t)rs;
	in->size = (uint8_t)(1u << size);
	in->regsize = size == 3 ? 8 : 4;
	in->cls = XG_EMU_ARM64_C_ATOMIC;
	in->load = 1;
	in->acqrel = 1; /* atomics are always checked for alignment (B2.5.2) */
	in->index = XG_EMU_ARM64_OFFSET;
	in->aop = (uint8_t)(o3 ? XG_EMU_ARM64_AOP_SWP : opc);
	in->name = atomic_names[o3 ? 8 : opc][a << 1 | r][size];
	return XG_EMU_ARM64_OK;
}

/* LD1-4/ST1-4 multiple structures by opcode (C4.1.66, Advanced SIMD load/store multiple
 * structures): {rpt, selem}, 0 unallocated. */
static const uint8_t multi_shape[16][2] = {
    [0x0] = {1, 4}, [0x2] = {4, 1}, [0x4] = {1, 3}, [0x6] = {3, 1},
    [0x7] = {1, 1}, [0x8] = {1, 2}, [0xa] = {2, 1},
};
static const char *const struct_names[2][2][4] = {
    {{"st1", "st2", "st3", "st4"}, {"ld1", "ld2", "ld3", "ld4"}},
    {{NULL, NULL, NULL, NULL}, {"ld1r", "ld2r", "ld3r", "ld4r"}},
};

static enum xg_emu_arm64_status decode_struct(uint32_t w, struct xg_emu_arm64_insn *in,
					      struct xg_emu_arm64_exception *exc, char *reason)
{
	unsigned q = (w >> 30) & 1, l = (w >> 22) & 1, post = (w >> 23) & 1, size = (w >> 10) & 3;
	unsigned single = (w >> 24) & 1;

	in->cls = XG_EMU_ARM64_C_STRUCT;
	in->fp = 1;
	in->load = l;
	in->datasize = q ? 16 : 8;
	in->rpt = 1;
	in->index = post ? XG_EMU_ARM64_POST : XG_EMU_ARM64_OFFSET;
	in->rm = post ? (w >> 16) & 31 : 31;
	if (!post && ((w >> 16) & 31))
		return undef(exc, reason,
			     "SIMD structure load/store with Rm set and no post-index");
	if (!single) {
		unsigned opcode = (w >> 12) & 15;

		if ((w >> 21) & 1)
			return undef(exc, reason, "SIMD multiple structures with bit 21 set");
		if (!multi_shape[opcode][0])
			return undef(exc, reason, "unallocated SIMD multiple-structure opcode");
		in->rpt = multi_shape[opcode][0];
		in->selem = multi_shape[opcode][1];
		if (size == 3 && !q && in->selem > 1)
			return undef(exc, reason, "LD2-4/ST2-4 of 1D elements");
		in->size = (uint8_t)(1u << size);
	} else {
		unsigned opcode = (w >> 13) & 7, s = (w >> 12) & 1, r = (w >> 21) & 1;
		unsigned scale = opcode >> 1, index = 0;

		in->single = 1;
		in->selem = (uint8_t)((((opcode & 1) << 1) | r) + 1);
		switch (scale) {
		case 0:
			index = q << 3 | s << 2 | size;
			break;
		case 1:
			if (size & 1)
				return undef(exc, reason,
					     "SIMD single structure H with size<0> set");
			index = q << 2 | s << 1 | size >> 1;
			break;
		case 2:
			if (size & 2)
				return undef(exc, reason,
					     "SIMD single structure S/D with size<1> set");
			if (!(size & 1)) {
				index = q << 1 | s;
			} else {
				if (s)
					return undef(exc, reason,
						     "SIMD single structure D with S set");
				index = q;
				scale = 3;
			}
			break;
		default:
			if (!l || s)
				return undef(exc, reason, "unallocated LDnR encoding");
			scale = size;
			in->replicate = 1;
			in->single = 0;
		}
		in->lane = (uint8_t)index;
		in->size = (uint8_t)(1u << scale);
	}
	in->regsize = in->size;
	in->name = struct_names[in->replicate][l][in->selem - 1];
	/* the immediate post-index is the bytes transferred (Rm = 31) */
	in->imm =
	    (int64_t)in->rpt * in->selem * (in->single || in->replicate ? in->size : in->datasize);
	return XG_EMU_ARM64_OK;
}

enum xg_emu_arm64_status xg_emu_arm64_decode(uint32_t w, struct xg_emu_arm64_insn *in,
					     struct xg_emu_arm64_exception *exc, char *reason)
{
	struct xg_emu_arm64_exception dummy;
	unsigned i;

	if (!exc)
		exc = &dummy;
	memset(in, 0, sizeof(*in));
	if (reason)
		reason[0] = 0;
	in->word = w;
	in->rt = w & 31;
	in->rn = (w >> 5) & 31;
	in->name = "?";
	/* DC ZVA, Xt = SYS #3, C7, C4, #1, Xt (C5.3.x, C6.2 SYS): a store of a block of zeros.
	 * The block size is DCZID_EL0's, which the emulator reads (xg_emu_arm64_emulate); 64
	 * bytes until then. */
	if ((w & ~31u) == 0xd50b7420) {
		in->cls = XG_EMU_ARM64_C_DCZVA;
		in->name = "dc zva";
		in->rn = 0; /* no base register: Xt is the address (31 is XZR) */
		in->regsize = 8;
		in->imm = 64;
		return XG_EMU_ARM64_OK;
	}
	/* ARM ARM C4.1: op0 = x1x0 (bits 28:25) is the load/store space */
	if ((w & 0x0a000000) != 0x08000000)
		return not_handled(in, reason, XG_EMU_ARM64_C_NONE, "?",
				   "not a load or store instruction");

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if ((w & rows[i].mask) == rows[i].value)
			break;
	if (i == sizeof(rows) / sizeof(rows[0]))
		return undef(exc, reason, "unallocated load/store encoding");

	switch (rows[i].form) {
	case F_STRUCT:
		return decode_struct(w, in, exc, reason);
	case F_EXCL:
		return decode_excl(w, in, exc, reason);
	case F_RCPC_MTE:
		if ((w >> 21) & 1) {
			if ((w >> 30) == 3)
				return not_handled(in, reason, XG_EMU_ARM64_C_OTHER, "stg",
						   "memory tagging (MTE) instruction");
			return undef(exc, reason, "unallocated tag/RCpc encoding");
		}
		if ((w >> 10) & 3)
			return undef(exc, reason, "unallocated RCpc encoding");
		return not_handled(in, reason, XG_EMU_ARM64_C_OTHER,
				   (w >> 22) & 3 ? "ldapur" : "stlur",
				   "LDAPUR/STLUR (RCpc unscaled)");
	case F_LITERAL:
		return decode_literal(w, in, exc, reason);
	case F_PAIR:
		return decode_pair(w, in, exc, reason);
	case F_ATOMIC:
		return decode_atomic(w, in, exc, reason);
	case F_PAC:
		if ((w >> 26) & 1 || (w >> 30) != 3)
			return undef(exc, reason, "unallocated LDRAA/LDRAB encoding");
		return not_handled(in, reason, XG_EMU_ARM64_C_OTHER,
				   (w >> 23) & 1 ? "ldrab" : "ldraa",
				   "pointer-authenticated load (LDRAA/LDRAB)");
	default:
		return decode_single(w, (enum form)rows[i].form, in, exc, reason);
	}
}
