/*
 * t_emu_decode.c - the x86 decoder on fixed byte sequences: lengths, memory-operand forms,
 * prefixes, REX/VEX/EVEX fields, disp8*N, and the #UD / #GP / truncated / not-handled paths.
 */
#include <stdio.h>
#include <string.h>

#include <cpuid.h>

#include "tap.h"
#include "xg_emu_x86.h"

#define NR XG_EMU_X86_NOREG

struct dcase {
	const char *what;
	unsigned mode;
	const char *hex;
	int status; /* enum xg_emu_x86_status */
	int len;
	/* memory operand: -1 base = no memory operand expected */
	int base, index, scale;
	long long disp;
	int seg, rip_rel;
	const char *name; /* NULL: not checked */
};

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	while (*s) {
		unsigned v;
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

enum { ES, CS, SS, DS, FS, GS };
#define OK    XG_EMU_X86_OK
#define EXC   XG_EMU_X86_EXCEPTION
#define NH    XG_EMU_X86_NOT_HANDLED
#define TR    XG_EMU_X86_TRUNCATED
#define NOMEM -1, 0, 0, 0, 0, 0

/* clang-format off */
static const struct dcase cases[] = {
	{ "mov eax,[rbx]", 64, "8b 03", OK, 2, 3, NR, 1, 0, DS, 0, "mov" },
	{ "mov rax,[rsp+8]", 64, "48 8b 44 24 08", OK, 5, 4, NR, 1, 8, SS, 0, "mov" },
	{ "mov [rbp-4],ecx", 64, "89 4d fc", OK, 3, 5, NR, 1, -4, SS, 0, "mov" },
	{ "mov r13d,[r13+0]", 64, "45 8b 6d 00", OK, 4, 13, NR, 1, 0, DS, 0, "mov" },
	{ "rip-relative", 64, "8b 05 10 00 00 00", OK, 6, NR, NR, 1, 16, DS, 1, "mov" },
	{ "sib no base", 64, "8b 04 8d 00 10 00 00", OK, 7, NR, 1, 4, 0x1000, DS, 0, "mov" },
	{ "sib r12 index via REX.X", 64, "42 8b 04 a0", OK, 4, 0, 12, 4, 0, DS, 0, "mov" },
	{ "sib index 4 means none", 64, "8b 04 24", OK, 3, 4, NR, 1, 0, SS, 0, "mov" },
	{ "fs override", 64, "64 48 8b 04 25 28 00 00 00", OK, 9, NR, NR, 1, 0x28, FS, 0,
	  "mov" },
	{ "32-bit disp32 absolute", 32, "a1 78 56 34 12", OK, 5, NR, NR, 1, 0x12345678, DS, 0,
	  "mov" },
	{ "moffs64", 64, "48 a1 88 77 66 55 44 33 22 11", OK, 10, NR, NR, 1,
	  0x1122334455667788ll, DS, 0, "mov" },
	{ "16-bit [bp+si+5]", 16, "8b 42 05", OK, 3, 5, 6, 1, 5, SS, 0, "mov" },
	{ "16-bit disp16", 16, "8b 1e 34 12", OK, 4, NR, NR, 1, 0x1234, DS, 0, "mov" },
	{ "67 in 64-bit: 32-bit address", 64, "67 8b 00", OK, 3, 0, NR, 1, 0, DS, 0, "mov" },
	{ "add [rax],imm32", 64, "81 00 78 56 34 12", OK, 6, 0, NR, 1, 0, DS, 0, "add" },
	{ "add word [rax],imm16", 64, "66 81 00 34 12", OK, 5, 0, NR, 1, 0, DS, 0, "add" },
	{ "test byte [rax],imm8 (F6 /0)", 64, "f6 00 01", OK, 3, 0, NR, 1, 0, DS, 0, "test" },
	{ "test dword [rax],imm32 (F7 /0)", 64, "f7 00 01 00 00 00", OK, 6, 0, NR, 1, 0, DS, 0,
	  "test" },
	{ "not [rax] (F7 /2) has no imm", 64, "f7 10", OK, 2, 0, NR, 1, 0, DS, 0, "not" },
	{ "mov r64, imm64", 64, "48 b8 01 02 03 04 05 06 07 08", OK, 10, NOMEM, "mov" },
	{ "lock cmpxchg16b", 64, "f0 48 0f c7 0e", OK, 5, 6, NR, 1, 0, DS, 0, "cmpxchg8b" },
	{ "bt [rax],imm8", 64, "0f ba 20 05", OK, 4, 0, NR, 1, 0, DS, 0, "bt" },
	{ "movzx eax, byte [rsi]", 64, "0f b6 06", OK, 3, 6, NR, 1, 0, DS, 0, "movzx" },
	{ "rep movsq", 64, "f3 48 a5", OK, 3, NOMEM, "movs" },
	{ "enter imm16,imm8", 64, "c8 10 00 01", OK, 4, NOMEM, "enter" },
	{ "flds [rax]", 64, "d9 00", OK, 2, 0, NR, 1, 0, DS, 0, "x87" },
	{ "fstpt [rsp+16]", 64, "db 7c 24 10", OK, 4, 4, NR, 1, 16, SS, 0, "x87" },
	{ "movss xmm0,[rdi]", 64, "f3 0f 10 07", OK, 4, 7, NR, 1, 0, DS, 0, "movss" },
	{ "movaps [rsp],xmm15", 64, "44 0f 29 3c 24", OK, 5, 4, NR, 1, 0, SS, 0, "movaps" },
	{ "66 F3 0F 6F: F3 wins", 64, "66 f3 0f 6f 00", OK, 5, 0, NR, 1, 0, DS, 0, "movdqu" },
	{ "pextrd [rax],xmm1,2", 64, "66 0f 3a 16 08 02", OK, 6, 0, NR, 1, 0, DS, 0,
	  "pextrd/q" },
	{ "vmovdqu ymm0,[rax] (VEX2)", 64, "c5 fe 6f 00", OK, 4, 0, NR, 1, 0, DS, 0, "movdqu" },
	{ "vmovdqu ymm8,[r9+r10*2+0x80] (VEX3)", 64, "c4 01 7e 6f 84 51 80 00 00 00", OK, 10, 9,
	  10, 2, 0x80, DS, 0, "movdqu" },
	{ "vbroadcastss ymm1,[rcx]", 64, "c4 e2 7d 18 09", OK, 5, 1, NR, 1, 0, DS, 0,
	  "vbroadcastss" },
	{ "vpinsrq xmm1,xmm2,[rax],1", 64, "c4 e3 e9 22 08 01", OK, 6, 0, NR, 1, 0, DS, 0,
	  "pinsrd/q" },
	{ "vmovdqu64 zmm0,[rax+0x40] disp8*64", 64, "62 f1 fe 48 6f 40 01", OK, 7, 0, NR, 1,
	  0x40, DS, 0, "movdqu" },
	{ "vmovdqu8 zmm1{k1}{z},[rax-0x80]", 64, "62 f1 7f c9 6f 48 fe", OK, 7, 0, NR, 1, -0x80,
	  DS, 0, "vmovdqu8/16" },
	{ "vmovups xmm0,[rax+0x10] disp8*16", 64, "62 f1 7c 08 10 40 01", OK, 7, 0, NR, 1, 0x10,
	  DS, 0, "movups" },
	{ "vmovss xmm0,[rax+4] disp8*4", 64, "62 f1 7e 08 10 40 01", OK, 7, 0, NR, 1, 4, DS, 0,
	  "movss" },
	{ "vpbroadcastb zmm0,[rax+1] disp8*1", 64, "62 f2 7d 48 78 40 01", OK, 7, 0, NR, 1, 1, DS,
	  0, "vpbroadcastb" },
	{ "EVEX vmovups zmm31,[rcx] (R and R')", 64, "62 61 7c 48 10 39", OK, 6, 1, NR, 1, 0, DS, 0,
	  "movups" },
	{ "vpgatherdd VSIB", 64, "c4 e2 75 90 04 90", OK, 6, 0, 2, 4, 0, DS, 0, NULL },
	{ "vpgatherdd with mask = index (ymm1): #UD", 64, "c4 e2 75 90 04 88", EXC, 0, NOMEM,
	  NULL },
	{ "vpgatherdd with destination = index: #UD", 64, "c4 e2 75 90 04 00", EXC, 0, NOMEM,
	  NULL },
	{ "vpgatherdd without a SIB byte: #UD", 64, "c4 e2 75 90 05 00 00 00 00", EXC, 0, NOMEM,
	  NULL },
	{ "vpgatherdd with 16-bit addressing (67h, 32-bit mode): #UD", 32,
	  "67 c4 e2 75 90 04 90 00 00", EXC, 0, NOMEM, NULL },
	{ "vpgatherdd in 16-bit mode: #UD", 16, "c4 e2 75 90 04 90 00 00", EXC, 0, NOMEM, NULL },
	{ "salc (D6) in 32-bit mode", 32, "d6", OK, 1, NOMEM, "salc" },
	{ "salc (D6) in 64-bit mode: #UD", 64, "d6", EXC, 0, NOMEM, NULL },
	/* forms no CPU defines of opcodes that exist (the length probe's CPU #UD classes) */
	{ "mov r/m, Sreg 6: #UD", 64, "8c 30", EXC, 0, NOMEM, NULL },
	{ "mov r/m, Sreg 7: #UD", 32, "8c 3f", EXC, 0, NOMEM, NULL },
	{ "mov cs, ax: #UD", 64, "8e c8", EXC, 0, NOMEM, NULL },
	{ "mov Sreg 6, r/m: #UD", 64, "8e 3b", EXC, 0, NOMEM, NULL },
	{ "mov es, ax", 64, "8e c0", OK, 2, NOMEM, "mov sreg" },
	{ "C6 /7 with rm != 0: #UD", 64, "c6 fd f5", EXC, 0, NOMEM, NULL },
	{ "C7 /7 with rm != 0: #UD", 64, "c7 fe a1 82 1d 6f", EXC, 0, NOMEM, NULL },
	{ "xbegin", 64, "c7 f8 00 00 00 00", OK, 6, NOMEM, "xbegin" },
	{ "mov cr5, rax: #UD", 64, "0f 22 e8", EXC, 0, NOMEM, NULL },
	{ "mov rax, cr1: #UD", 32, "0f 20 c8", EXC, 0, NOMEM, NULL },
	{ "mov rax, cr9: #UD", 64, "44 0f 20 c8", EXC, 0, NOMEM, NULL },
	{ "mov rax, cr8", 64, "44 0f 20 c0", OK, 4, NOMEM, "mov cr/dr" },
	{ "mov rax, cr3", 32, "0f 20 d8", OK, 3, NOMEM, "mov cr/dr" },
	{ "mov dr8, rax: #UD", 64, "44 0f 23 c0", EXC, 0, NOMEM, NULL },
	{ "0F 00 /7: #UD", 64, "0f 00 38", EXC, 0, NOMEM, NULL },
	{ "0F 01 /5 memory form without F3: #UD", 32, "0f 01 6e 18", EXC, 0, NOMEM, NULL },
	{ "0F 00 /6 without F2: #UD", 64, "66 0f 00 36", EXC, 0, NOMEM, NULL },
	{ "0F AE /0 register form without F3: #UD", 64, "0f ae c0", EXC, 0, NOMEM, NULL },
	{ "rdfsbase", 64, "f3 0f ae c0", OK, 4, NOMEM, "grp15" },
	{ "rdfsbase outside 64-bit mode: #UD", 32, "f3 0f ae c0", EXC, 0, NOMEM, NULL },
	{ "wrgsbase outside 64-bit mode: #UD", 16, "f3 0f ae d8", EXC, 0, NOMEM, NULL },
	{ "F3 0F AE /5 register form (incsspd) in 32-bit mode", 32, "f3 0f ae e8", OK, 4, NOMEM,
	  NULL },
	{ "lkgs", 64, "f2 0f 00 30", OK, 4, 0, NR, 1, 0, DS, 0, NULL },
	{ "lkgs outside 64-bit mode: #UD", 32, "f2 0f 00 30", EXC, 0, NOMEM, NULL },
	{ "66 fxsave: #UD", 64, "66 0f ae 00", EXC, 0, NOMEM, NULL },
	{ "F2 clflush: #UD", 32, "f2 0f ae 38", EXC, 0, NOMEM, NULL },
	{ "lfence with 66: #UD", 32, "66 0f ae e8", EXC, 0, NOMEM, NULL },
	{ "clwb", 64, "66 0f ae 30", OK, 4, 0, NR, 1, 0, DS, 0, "clwb" },
	{ "0F B8 without F3 (jmpe): #UD", 64, "0f b8 c0", EXC, 0, NOMEM, NULL },
	{ "popcnt", 64, "f3 0f b8 c0", OK, 4, NOMEM, "popcnt" },
	{ "xsavec with F3: #UD", 64, "f3 0f c7 20", EXC, 0, NOMEM, NULL },
	{ "xrstors with 66: #UD", 64, "66 0f c7 18", EXC, 0, NOMEM, NULL },
	{ "rdrand with F2: #UD", 32, "f2 0f c7 f0", EXC, 0, NOMEM, NULL },
	{ "rdpid", 64, "f3 0f c7 f8", OK, 4, NOMEM, "rdseed" },
	{ "femms: #UD", 64, "0f 0e", EXC, 0, NOMEM, NULL },
	{ "3DNow! pfadd: #UD", 32, "0f 0f c0 9e", EXC, 0, NOMEM, NULL },
	{ "EVEX vaddps with b in a register form (rounding)", 64, "62 f1 74 18 58 c2", OK, 6,
	  NOMEM, NULL },
	{ "EVEX vmovups with b (no broadcast): #UD", 64, "62 f1 7c 18 10 00", EXC, 0, NOMEM,
	  NULL },
	{ "EVEX vpbroadcastmb2q with a mask: #UD", 64, "62 f2 fe 49 2a c1", EXC, 0, NOMEM, NULL },
	{ "vzeroupper has no ModRM", 64, "c5 f8 77", OK, 3, NOMEM, NULL },
	{ "VEX map 3 has imm8", 64, "c4 e3 7d 18 00 01", OK, 6, 0, NR, 1, 0, DS, 0,
	  "vinsertf128" },
	{ "EVEX unknown disp8 tuple: length, disp not scaled", 64, "62 f2 7d 48 c8 40 01", OK, 7, 0, NR, 1, 1, DS, 0, NULL },
	{ "ud2", 64, "0f 0b", EXC, 0, NOMEM, NULL },
	{ "push es invalid in 64-bit", 64, "06", EXC, 0, NOMEM, NULL },
	{ "VEX after 66 is #UD", 64, "66 c5 fe 6f 00", EXC, 0, NOMEM, NULL },
	{ "lock-less movdqu8 legacy F2 0F 6F is #UD", 64, "f2 0f 6f 00", EXC, 0, NOMEM, NULL },
	{ "16 bytes: #GP", 64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 8b 00", EXC, 0, NOMEM,
	  NULL },
	{ "truncated disp32", 64, "8b 80 00 00", TR, 0, NOMEM, NULL },
	{ "truncated after prefix", 64, "66", TR, 0, NOMEM, NULL },
	{ "32-bit C5 with mod != 3 is LDS", 32, "c5 00", OK, 2, 0, NR, 1, 0, DS, 0, "lds" },
	{ "32-bit C5 with mod == 3 is VEX", 32, "c5 f8 10 00", OK, 4, 0, NR, 1, 0, DS, 0,
	  "movups" },
	{ "mov cr0 ignores mod", 64, "0f 20 00", OK, 3, NOMEM, NULL },
	{ "XOP (8f with reg != 0) is #UD on Intel and on AMD since Zen", 64, "8f e8 78 c0 c8 01",
	  EXC, 0, NOMEM, NULL },
	{ "66 66 48 call rel32 (glibc's TLS call): REX.W wins over 66", 64,
	  "66 66 48 e8 00 00 00 00", OK, 8, NOMEM, "call" },
	{ "lock on a register destination: #UD", 64, "f0 01 c0", EXC, 0, NOMEM, NULL },
	{ "lock on a non-lockable instruction: #UD", 64, "f0 8b 03", EXC, 0, NOMEM, NULL },
	{ "lock add to memory", 64, "f0 01 03", OK, 3, 3, NR, 1, 0, DS, 0, "add" },
	{ "x87 undefined register form d9 d1: #UD", 64, "d9 d1", EXC, 0, NOMEM, NULL },
	{ "x87 undefined register form df e1: #UD", 64, "df e1", EXC, 0, NOMEM, NULL },
	{ "x87 fcompp de d9", 64, "de d9", OK, 2, NOMEM, "x87" },
	/* the opcode tables (xg_emu_x86_valid.c): undefined opcodes, prefixes, W, forms */
	{ "0f38 50 is undefined: #UD", 64, "0f 38 50 c0", EXC, 0, NOMEM, NULL },
	{ "haddps needs F2: NP 0f 7c is #UD", 64, "0f 7c c1", EXC, 0, NOMEM, NULL },
	{ "haddpd 66 0f 7c", 64, "66 0f 7c c1", OK, 4, NOMEM, NULL },
	{ "pmovmskb has no memory form: #UD", 64, "66 0f d7 00", EXC, 0, NOMEM, NULL },
	{ "ud0 (0f ff): #UD", 64, "0f ff 00", EXC, 0, NOMEM, NULL },
	{ "ud1 (0f b9): #UD", 64, "0f b9 00", EXC, 0, NOMEM, NULL },
	{ "pshufb 66 0f38 00", 64, "66 0f 38 00 c1", OK, 5, NOMEM, NULL },
	{ "pshufb with F3: #UD", 64, "f3 0f 38 00 c1", EXC, 0, NOMEM, NULL },
	{ "vpshufb VEX.66.0F38 00", 64, "c4 e2 79 00 c1", OK, 5, NOMEM, NULL },
	{ "VEX.NP.0F38 00 is undefined: #UD", 64, "c4 e2 78 00 c1", EXC, 0, NOMEM, NULL },
	{ "vpermilps is W0: W1 #UD", 64, "c4 e2 f9 0c c1", EXC, 0, NOMEM, NULL },
	{ "vpshufhw with vvvv != 1111b: #UD", 64, "c5 f2 70 c1 00", EXC, 0, NOMEM, NULL },
	{ "vpshufhw", 64, "c5 fa 70 c1 00", OK, 5, NOMEM, NULL },
	{ "vpsrlw imm (VEX 0F 71 /2) has no memory form: #UD", 64, "c5 f1 71 10 01", EXC, 0,
	  NOMEM, NULL },
	{ "VEX 0F 71 /1 is undefined: #UD", 64, "c5 f1 71 c8 01", EXC, 0, NOMEM, NULL },
	{ "EVEX map 5 opcode 00 is undefined: #UD", 64, "62 f5 7c 48 00 c1", EXC, 0, NOMEM, NULL },
	{ "kunpckbw k5,k4,k6 (vvvv names a mask register)", 64, "c5 dd 4b ee", OK, 4, NOMEM,
	  NULL },
	{ "AMD FMA4 vfmaddps decodes (another CPU's opcode)", 64, "c4 e3 71 68 c2 30", OK, 6,
	  NOMEM, NULL },
	{ "CMPccXADD decodes (another CPU's opcode)", 64, "c4 e2 71 e0 03", OK, 5, 3, NR, 1, 0,
	  DS, 0, NULL },
	{ "AVX-IFMA vpmadd52luq decodes (another CPU's opcode)", 64, "c4 e2 f1 b4 c2", OK, 5,
	  NOMEM, NULL },
	{ "32-bit: VEX.W1 vmovd is vmovd (W ignored), not #UD", 32, "c4 e1 f9 6e c1", OK, 5,
	  NOMEM, NULL },
	{ "EVEX map 5 (FP16) has a length", 64, "62 f5 7c 48 58 c1", OK, 6, NOMEM, "vaddph" },
	{ "EVEX map 5 opcode not run in a stub has a length", 64, "62 f5 7c 48 5a c1", OK, 6, NOMEM,
	  "evex fp16" },
	{ "jmp rel32", 64, "e9 00 00 00 00", OK, 5, NOMEM, "jmp" },
	{ "imul r,rm,imm8", 64, "6b c0 05", OK, 3, NOMEM, "imul" },
	{ "x87 register form decodes", 64, "d9 c9", OK, 2, NOMEM, "x87" },
	{ "fld m80 with REX", 64, "41 db 28", OK, 3, 8, NR, 1, 0, DS, 0, "x87" },
	{ "extrq xmm1,5,3 (AMD SSE4a, two imm8)", 64, "66 0f 78 c1 05 03", OK, 6, NOMEM, "extrq" },
	{ "vmread rax,rcx", 64, "0f 78 c8", OK, 3, NOMEM, "vmread" },
};
/* clang-format on */

/* The host's CPUID bit, read here with the compiler's own cpuid.h (not the emulator's
 * code): reg 0 EAX .. 3 EDX; 0 when the leaf is beyond the host's range. */
static int host_bit(unsigned leaf, unsigned reg, unsigned bit)
{
	unsigned r[4] = {0};

	if ((unsigned)__get_cpuid_max(leaf & 0x80000000u, NULL) < leaf) /* int in clang's cpuid.h */
		return 0;
	__cpuid_count(leaf, 0, r[0], r[1], r[2], r[3]);
	return (r[reg] >> bit) & 1;
}

/* supported() on the general-purpose forms of the later extensions: those run as the host's
 * own instruction need the host's feature (SDM Vol. 2 CPUID, each instruction's #UD line),
 * those computed in C and LZCNT/TZCNT (BSR/BSF without the feature) do not. On a host with
 * every feature (the EPYC and Xeon hosts so far) every one is supported. */
static void gp2_supported(void)
{
	static const struct {
		const char *name;
		uint8_t b[8];
		unsigned n, leaf, reg, bit; /* leaf 0: computed in C */
	} f[] = {
	    {"popcnt eax,eax", {0xf3, 0x0f, 0xb8, 0xc0}, 4, 1, 2, 23},
	    {"crc32 eax,al", {0xf2, 0x0f, 0x38, 0xf0, 0xc0}, 5, 1, 2, 20},
	    {"adcx eax,eax", {0x66, 0x0f, 0x38, 0xf6, 0xc0}, 5, 7, 1, 19},
	    {"adox eax,eax", {0xf3, 0x0f, 0x38, 0xf6, 0xc0}, 5, 7, 1, 19},
	    {"andn eax,eax,eax", {0xc4, 0xe2, 0x78, 0xf2, 0xc0}, 5, 7, 1, 3},
	    {"bextr eax,eax,eax", {0xc4, 0xe2, 0x78, 0xf7, 0xc0}, 5, 7, 1, 3},
	    {"blsr eax,eax", {0xc4, 0xe2, 0x78, 0xf3, 0xc8}, 5, 7, 1, 3},
	    {"bzhi eax,eax,eax", {0xc4, 0xe2, 0x78, 0xf5, 0xc0}, 5, 7, 1, 8},
	    {"pdep eax,eax,eax", {0xc4, 0xe2, 0x7b, 0xf5, 0xc0}, 5, 7, 1, 8},
	    {"pext eax,eax,eax", {0xc4, 0xe2, 0x7a, 0xf5, 0xc0}, 5, 7, 1, 8},
	    {"mulx eax,eax,eax", {0xc4, 0xe2, 0x7b, 0xf6, 0xc0}, 5, 0, 0, 0},
	    {"rorx eax,eax,1", {0xc4, 0xe3, 0x7b, 0xf0, 0xc0, 0x01}, 6, 0, 0, 0},
	    {"shlx eax,eax,eax", {0xc4, 0xe2, 0x79, 0xf7, 0xc0}, 5, 0, 0, 0},
	    {"movbe eax,[rax]", {0x0f, 0x38, 0xf0, 0x00}, 4, 0, 0, 0},
	    {"lzcnt eax,eax", {0xf3, 0x0f, 0xbd, 0xc0}, 4, 0, 0, 0},
	    {"tzcnt eax,eax", {0xf3, 0x0f, 0xbc, 0xc0}, 4, 0, 0, 0},
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct xg_emu_x86_insn in;
		int st = xg_emu_x86_decode(f[i].b, f[i].n, 64, 0, &in, NULL, NULL);
		int want = !f[i].leaf || host_bit(f[i].leaf, f[i].reg, f[i].bit);
		ok(st == OK && in.len == f[i].n && xg_emu_x86_supported(&in) == want,
		   "%s: supported %d, the host's CPUID says %d (status %d, length %u)", f[i].name,
		   st == OK ? xg_emu_x86_supported(&in) : -1, want, st, in.len);
	}
}

/* The other forms the vendors decode differently (the vendor list in xg_emu_x86.h), for
 * the vendor asked, whatever the host: SYSCALL/SYSRET outside 64-bit mode are #UD on Intel
 * only; a 66h near branch in 64-bit mode is rel32 on Intel (66 ignored) and rel16 on AMD,
 * REX.W giving rel32 on both. */
static void vendor_forms(void)
{
	static const struct {
		const char *name;
		unsigned mode;
		uint8_t b[8];
		unsigned n;
		int intel_len, amd_len; /* 0: #UD */
	} k[] = {
	    {"syscall, 32-bit", 32, {0x0f, 0x05}, 2, 0, 2},
	    {"sysret, 32-bit", 32, {0x0f, 0x07}, 2, 0, 2},
	    {"syscall, 64-bit", 64, {0x0f, 0x05}, 2, 2, 2},
	    {"66 call rel, 64-bit", 64, {0x66, 0xe8, 1, 2, 3, 4}, 6, 6, 4},
	    {"66 jmp rel, 64-bit", 64, {0x66, 0xe9, 1, 2, 3, 4}, 6, 6, 4},
	    {"66 jz rel, 64-bit", 64, {0x66, 0x0f, 0x84, 1, 2, 3, 4}, 7, 7, 5},
	    {"66 48 call rel (REX.W), 64-bit", 64, {0x66, 0x48, 0xe8, 1, 2, 3, 4}, 7, 7, 7},
	};

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		for (int amd = 0; amd < 2; amd++) {
			struct xg_emu_x86_insn in;
			struct xg_emu_x86_exception exc;
			int want = amd ? k[i].amd_len : k[i].intel_len;
			int st = xg_emu_x86_decode_vendor(
			    k[i].b, k[i].n, k[i].mode, 0,
			    amd ? XG_EMU_X86_VENDOR_AMD : XG_EMU_X86_VENDOR_INTEL, &in, &exc, NULL);
			ok(want ? st == OK && in.len == (unsigned)want
				: st == EXC && exc.vector == XG_EMU_X86_UD,
			   "%s for %s: %s (status %d, length %u)", k[i].name, amd ? "AMD" : "Intel",
			   want ? "decoded" : "#UD", st, st == OK ? in.len : 0);
		}
}

/* One 0F 0D string for Intel, AMD and (xg_emu_x86_decode) the host's vendor: 1 if right. */
static int prefetch_one(const uint8_t *b, unsigned len, unsigned mode, int m3)
{
	static const enum xg_emu_x86_vendor vendors[3] = {
	    XG_EMU_X86_VENDOR_INTEL, XG_EMU_X86_VENDOR_AMD, XG_EMU_X86_VENDOR_HOST};
	int good = 1;

	for (unsigned v = 0; v < 3; v++) {
		struct xg_emu_x86_insn in;
		struct xg_emu_x86_exception exc;
		enum xg_emu_x86_vendor vd = v < 2 ? vendors[v] : xg_emu_x86_host_vendor();
		int ud = m3 && vd == XG_EMU_X86_VENDOR_AMD;
		int st =
		    v < 2 ? xg_emu_x86_decode_vendor(b, len, mode, 0, vendors[v], &in, &exc, NULL)
			  : xg_emu_x86_decode(b, len, mode, 0, &in, &exc, NULL);

		if (ud ? st == EXC && exc.vector == XG_EMU_X86_UD : st == OK && in.len == len)
			continue;
		diag("%u-bit, %s: [%02x %02x %02x %02x] status %d, want %s", mode,
		     v < 2 ? xg_emu_x86_vendor_name(vd) : "host (xg_emu_x86_decode)", b[0], b[1],
		     b[2], b[3], st, ud ? "#UD" : "decoded");
		good = 0;
	}
	return good;
}

/* The PREFETCH group (0F 0D /0-/7) takes a memory operand only on AMD: with a register
 * operand AMD raises #UD for every ModRM.reg and prefix (seen on an AMD EPYC (Zen 5) by the
 * length probe's CPU), Intel runs it as a NOP (seen on the Xeon). Each vendor's answer,
 * whatever the host; xg_emu_x86_decode gives the host's vendor's. */
static void prefetch_group(void)
{
	static const uint8_t pfx[] = {0, 0x66, 0xf2, 0xf3, 0x48, 0x41};
	static const unsigned disp[4] = {0, 1, 4, 0}; /* r/m 1: [rcx], +disp8, +disp32, rcx */
	unsigned n_bad = 0, n = 0;

	for (unsigned mode = 64; mode >= 32; mode -= 32)
		for (size_t p = 0; p < sizeof(pfx); p++)
			for (unsigned modrm = 1; modrm < 256; modrm += 8) {
				uint8_t b[12] = {0};
				unsigned len = 0;

				if (mode != 64 && (pfx[p] & 0xf0) == 0x40)
					continue; /* INC/DEC there */
				if (pfx[p])
					b[len++] = pfx[p];
				b[len++] = 0x0f;
				b[len++] = 0x0d;
				b[len++] = (uint8_t)modrm;
				len += disp[modrm >> 6];
				n++;
				n_bad += !prefetch_one(b, len, mode, modrm >= 0xc0);
			}
	is_int(n_bad, 0,
	       "0F 0D, every ModRM.reg and mod, none/66/F2/F3/REX, 64/32-bit (%u strings): AMD #UD "
	       "for a register, Intel decodes it, xg_emu_x86_decode as the host's vendor",
	       n);
}

int main(void)
{
	char reason[96];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *t = &cases[i];
		struct xg_emu_x86_insn in;
		struct xg_emu_x86_exception exc;
		uint8_t b[32];
		size_t n = unhex(t->hex, b);
		int st = xg_emu_x86_decode(b, n, t->mode, 0, &in, &exc, reason);

		if (!is_int(st, t->status, "%s: status (%s)", t->what, reason))
			continue;
		if (st != OK)
			continue;
		is_int(in.len, t->len, "%s: length", t->what);
		if (t->name)
			is_str(in.name, t->name, "%s: name", t->what);
		if (t->base == -1) {
			ok(!in.has_mem, "%s: no memory operand", t->what);
			continue;
		}
		ok(in.has_mem && in.base == t->base && in.index == t->index &&
		       in.scale == t->scale && in.disp == t->disp && in.seg == t->seg &&
		       in.rip_rel == t->rip_rel,
		   "%s: memory operand (base %d index %d scale %d disp %lld seg %d rip %d)",
		   t->what, in.base, in.index, in.scale, (long long)in.disp, in.seg, in.rip_rel);
	}

	/* EVEX fields */
	{
		struct xg_emu_x86_insn in;
		uint8_t b[] = {0x62, 0xf1, 0x7f, 0xc9, 0x6f, 0x48, 0xfe};
		xg_emu_x86_decode(b, sizeof(b), 64, 0, &in, NULL, NULL);
		ok(in.enc == 2 && in.aaa == 1 && in.z == 1 && in.vl == 2 && in.w == 0 &&
		       in.pfx == 3 && in.disp8n == 64,
		   "EVEX fields: aaa=%u z=%u vl=%u w=%u pfx=%u N=%u", in.aaa, in.z, in.vl, in.w,
		   in.pfx, in.disp8n);
	}
	/* D0/D2 (shift r/m8 by 1 / by CL) have byte operands */
	{
		struct xg_emu_x86_insn in;
		uint8_t d0[] = {0xd0, 0xe0}, d2[] = {0xd2, 0x20}, d1[] = {0xd1, 0xe0};
		xg_emu_x86_decode(d0, sizeof(d0), 64, 0, &in, NULL, NULL);
		is_int(in.opsize, 1, "d0 e0 (shl al,1): operand size 1");
		xg_emu_x86_decode(d2, sizeof(d2), 64, 0, &in, NULL, NULL);
		is_int(in.opsize, 1, "d2 20 (shl byte [rax],cl): operand size 1");
		xg_emu_x86_decode(d1, sizeof(d1), 64, 0, &in, NULL, NULL);
		is_int(in.opsize, 4, "d1 e0 (shl eax,1): operand size 4");
	}
	/* EVEX with a disp8 whose N the decoder does not know: the length still (vfixupimmpd) */
	{
		struct xg_emu_x86_insn in;
		uint8_t b[] = {0x62, 0xc3, 0xcd, 0x3e, 0x54, 0x75, 0x2f, 0x1e};
		int st = xg_emu_x86_decode(b, sizeof(b), 64, 0, &in, NULL, NULL);
		ok(st == OK && in.len == 8 && !xg_emu_x86_supported(&in),
		   "EVEX disp8 with unknown N: length %u, not supported (status %d)", in.len, st);
	}
	/* never reads past n: every prefix of a long instruction is TRUNCATED */
	{
		uint8_t b[] = {0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00};
		int bad = 0;
		for (size_t k = 0; k < sizeof(b); k++) {
			struct xg_emu_x86_insn in;
			if (xg_emu_x86_decode(b, k, 64, 0, &in, NULL, NULL) != TR)
				bad++;
		}
		is_int(bad, 0, "every short prefix of an 11-byte EVEX insn is truncated");
	}
	gp2_supported();
	prefetch_group();
	vendor_forms();
	return done_testing();
}
