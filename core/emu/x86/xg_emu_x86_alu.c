/*
 * xg_emu_x86_alu.c - integer arithmetic executed on the host CPU.
 *
 * The flags an ALU instruction leaves (including the ones the SDM calls undefined, which the
 * differential harness compares too) are exactly what the host's own instruction produces,
 * so each operation runs the real instruction on registers between popf and pushf, the way
 * KVM's "fastop" does. Only the arithmetic flags go in and out (SDM Vol. 1 3.4.3.1); DF,
 * TF and IF of the host are never touched. The red zone below RSP is stepped over before the
 * pushes.
 */
#include "xg_emu_x86_int.h"

#define ARITH 0x8d5ull /* CF PF AF ZF SF OF */

#define ALU2(nm, text, ty, cn)                                                                     \
	static uint64_t nm(uint64_t d, uint64_t s, uint64_t *fl)                                   \
	{                                                                                          \
		ty dd = (ty)d, ss = (ty)s;                                                         \
		uint64_t f = (*fl & ARITH) | 2;                                                    \
		__asm__ volatile("lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopf\n\t" text            \
				 "\n\tpushf\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"                  \
				 : [d] "+" cn(dd), [f] "+r"(f)                                     \
				 : [s] cn(ss)                                                      \
				 : "cc", "memory");                                                \
		*fl = (*fl & ~ARITH) | (f & ARITH);                                                \
		return dd;                                                                         \
	}

#define ALU_SIZES(op, text)                                                                        \
	ALU2(op##8, text, uint8_t, "q")                                                            \
	ALU2(op##16, text, uint16_t, "r")                                                          \
	ALU2(op##32, text, uint32_t, "r")                                                          \
	ALU2(op##64, text, uint64_t, "r")
#define ALU_SIZES16(op, text)                                                                      \
	ALU2(op##16, text, uint16_t, "r")                                                          \
	ALU2(op##32, text, uint32_t, "r")                                                          \
	ALU2(op##64, text, uint64_t, "r")

ALU_SIZES(add, "add %[s], %[d]")
ALU_SIZES(or, "or %[s], %[d]")
ALU_SIZES(adc, "adc %[s], %[d]")
ALU_SIZES(sbb, "sbb %[s], %[d]")
ALU_SIZES(and, "and %[s], %[d]")
ALU_SIZES(sub, "sub %[s], %[d]")
ALU_SIZES(xor, "xor %[s], %[d]")
ALU_SIZES(cmp, "cmp %[s], %[d]")
ALU_SIZES(test, "test %[s], %[d]")
ALU_SIZES(inc, "inc %[d]")
ALU_SIZES(dec, "dec %[d]")
ALU_SIZES(not, "not %[d]")
ALU_SIZES(neg, "neg %[d]")
ALU_SIZES16(bt, "bt %[s], %[d]")
ALU_SIZES16(bts, "bts %[s], %[d]")
ALU_SIZES16(btr, "btr %[s], %[d]")
ALU_SIZES16(btc, "btc %[s], %[d]")

typedef uint64_t (*alu_fn)(uint64_t, uint64_t, uint64_t *);
static const alu_fn alu_table[OP_COUNT][4] = {
    [OP_ADD] = {add8, add16, add32, add64},	 [OP_OR] = {or8, or16, or32, or64},
    [OP_ADC] = {adc8, adc16, adc32, adc64},	 [OP_SBB] = {sbb8, sbb16, sbb32, sbb64},
    [OP_AND] = {and8, and16, and32, and64},	 [OP_SUB] = {sub8, sub16, sub32, sub64},
    [OP_XOR] = {xor8, xor16, xor32, xor64},	 [OP_CMP] = {cmp8, cmp16, cmp32, cmp64},
    [OP_TEST] = {test8, test16, test32, test64}, [OP_INC] = {inc8, inc16, inc32, inc64},
    [OP_DEC] = {dec8, dec16, dec32, dec64},	 [OP_NOT] = {not8, not16, not32, not64},
    [OP_NEG] = {neg8, neg16, neg32, neg64},	 [OP_BT] = {NULL, bt16, bt32, bt64},
    [OP_BTS] = {NULL, bts16, bts32, bts64},	 [OP_BTR] = {NULL, btr16, btr32, btr64},
    [OP_BTC] = {NULL, btc16, btc32, btc64},
};

static const uint8_t size_index[9] = {[1] = 0, [2] = 1, [4] = 2, [8] = 3};

uint64_t xg_emu_x86_alu(unsigned op, unsigned size, uint64_t dst, uint64_t src, uint64_t *flags)
{
	alu_fn fn;

	if (op >= OP_COUNT || size > 8)
		return dst;
	fn = alu_table[op][size_index[size]];
	return fn ? fn(dst, src, flags) : dst;
}
