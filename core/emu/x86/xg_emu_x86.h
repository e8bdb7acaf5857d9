/*
 * xg_emu_x86.h - exitgate's x86 instruction emulator: decode and emulate one instruction.
 *
 * The contract. The emulator finishes, in user space, an instruction that a hypervisor could
 * not (KVM's emulation-failure exit hands over its bytes). It knows nothing of KVM, of the
 * policy engine or of Lua: all it touches goes through struct xg_emu_x86_ops, which a caller
 * implements (the KVM backend with ioctls, the tests with plain buffers). Every input is
 * guest-controlled - instruction bytes, memory, register state - and treated as such: the
 * decoder never reads past the bytes it is given, and the emulator changes nothing (no
 * memory write, no register write, no device read) before the last check that can fault.
 *
 * The fixed order of an emulation, each step a named stage a caller may hook (a hook that
 * returns non-zero vetoes the instruction, which then has no effect at all):
 *   DECODE      bytes -> struct xg_emu_x86_insn; #UD for invalid opcodes
 *   LEGALITY    mode, LOCK and prefix legality (#UD)
 *   DEVICE      CR0.EM/TS -> #NM or #UD, CR4.OSFXSR/OSXSAVE and XCR0 -> #UD, x87 pending #MF
 *   PRIVILEGE   CPL checks (none of the covered instructions needs one; the stage exists so
 *               a policy can veto by CPL)
 *   ALIGNMENT   #GP(0) for movaps/movdqa/vmovdqa/aligned EVEX moves on misaligned operands
 *   CANONICAL   segment limits and canonical addresses (#GP(0), #SS(0) for SS)
 *   TRANSLATE   every page of every access translated first (#PF with the caller's error code)
 *   READ        memory operands read (the hook sees them; stage "after operands are read")
 *   WRITEBACK   memory written, then vector state, then registers and RIP
 * A hook runs when its stage has passed; the WRITEBACK hook runs once the result is
 * computed and before the first write (the last chance to veto). The DEVICE and LEGALITY
 * checks also cover the operand rules of each instruction (VEX/EVEX W, L, vvvv, masking).
 * An exception found on the way is handed to the EXCEPTION hook and then to ops->inject.
 * The one thing that can precede a fault is architectural: a REP string instruction keeps
 * the iterations it completed (RCX/RSI/RDI and their memory) with RIP still on it, as if
 * interrupted between iterations (SDM Vol. 2 REP); a veto of that exception leaves it so.
 * Likewise FSTP m80, which the CPU performs as two stores (8 bytes, then 2): when the second
 * faults (across a page), the first is written, after the WRITEBACK hook, then the fault;
 * and an MMX store (MOVD/MOVQ/MOVNTQ to memory) whose access faults has set x87 TOP to 0
 * first (its vector state is written before the EXCEPTION hook, and a veto leaves it so).
 *
 * Accesses that cross a page are split into per-page accesses: one part may be RAM and the
 * other MMIO. Masked vector accesses (vmaskmov, EVEX opmask) touch only the enabled elements
 * and fault only on them, as the CPU does (SDM Vol. 1 14.8, Vol. 2 2.8). Gathers and scatters
 * are one access per active element: a fault on one is delivered after the elements before it
 * were read (or written) and their mask bits cleared, the state the CPU delivers it with.
 *
 * SSE/AVX/AVX2/FMA/AVX-512 (F, BW, DQ, VL, FP16) arithmetic, logic, compares (into k too),
 * shuffles, permutes, converts (to and from a GPR), ptest/vtestps and pcmpestri/pcmpistri
 * run in a host stub
 * (xg_emu_x86_stub.c, whose allow-list says which): the emulator makes the memory access
 * itself in the stages above (a broadcast reads one element, EVEX fault suppression reads
 * the enabled elements only), then runs the same instruction on the host CPU with the memory
 * operand in a host buffer and the guest's vector registers loaded from its XSAVE image, and
 * stores the results back. The stub code is rebuilt from the decoded, validated fields only,
 * in a page mapped writable once and executable once (never both), one slot per concurrent
 * emulation: vCPU threads may emulate at once. An instruction the host CPU cannot run is "not
 * handled: the host CPU lacks X" (and not supported()); one the guest's CPUID lacks
 * (ops->cpuid, else the host's) is #UD. MXCSR: the guest's rounding, DAZ and FTZ; an unmasked
 * exception is #XM (#UD with CR4.OSXMMEXCPT = 0) with only its MXCSR flags written (the CPU
 * sets them before the exception; a veto of the exception leaves them); one case depends on the
 * state, not on the bytes, and is "not handled": an unmasked overflow or underflow whose precision
 * flag the CPU sets by the result with an unbounded exponent, which the stub cannot see.
 */
#ifndef XG_EMU_X86_H
#define XG_EMU_X86_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Segment registers in ModRM.reg order (SDM Vol. 2 Table 3-6). */
enum xg_emu_x86_sreg {
	XG_EMU_X86_ES = 0,
	XG_EMU_X86_CS,
	XG_EMU_X86_SS,
	XG_EMU_X86_DS,
	XG_EMU_X86_FS,
	XG_EMU_X86_GS,
	XG_EMU_X86_NSEG
};

/* GPR numbers in encoding order. */
enum xg_emu_x86_gpr {
	XG_EMU_X86_RAX = 0,
	XG_EMU_X86_RCX,
	XG_EMU_X86_RDX,
	XG_EMU_X86_RBX,
	XG_EMU_X86_RSP,
	XG_EMU_X86_RBP,
	XG_EMU_X86_RSI,
	XG_EMU_X86_RDI,
};

/*
 * A segment register as the CPU caches it. Laid out as KVM's struct kvm_segment (api.rst
 * 4.13 KVM_GET_SREGS), field for field, so that a backend copies one whole; the KVM backend
 * asserts it (core/backend/kvm/x86/ops.c). avl and pad are carried, not used. Initialise it
 * by field names: the order is KVM's.
 */
struct xg_emu_x86_segment {
	uint64_t base;
	uint32_t limit; /* in bytes, granularity already applied */
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g, avl;
	uint8_t unusable, pad;
};

/*
 * Whose CPU the guest runs on, where Intel and AMD differ (the guest's CPUID leaf 0 vendor
 * string). XG_EMU_X86_VENDOR_HOST (0, what a zeroed struct holds) means the host's own CPU,
 * read once with CPUID: right for a VMM that hands its guests the host's CPUID, as KVM's
 * KVM_GET_SUPPORTED_CPUID does. A VMM that shows its guest another vendor says so here.
 *
 * Where the vendors differ, and what the emulator does for each (each difference found by
 * a CPU oracle - tests/emu/t_emu_diff.c in a KVM guest, tests/emu/t_emu_random.c in user
 * space - which print the vendor that judged; "seen on" names the CPU):
 *   REP string instruction with a 32-bit address size (67h) in 64-bit mode that does no
 *   iteration (ECX = 0, or a fault in the first iteration):
 *     Intel  writes ECX (zeroing RCX[63:32]) and, for MOVS, ESI and EDI, for STOS, EDI
 *            (zeroing their upper halves); LODS, CMPS and SCAS leave RSI/RDI alone.
 *     AMD    changes nothing, as if no iteration had been asked for (QEMU TCG does the same).
 *   The SDM (Vol. 2 REP) leaves the zero-count case at "no iteration"; this is what Intel
 *   CPUs do all the same, seen on a Xeon (AVX-512 and FP16), ECX = 0 and the faulting case.
 *   REP CMPS/SCAS stopped between iterations (a fault after some, or the emulator's batch):
 *     Intel  RFLAGS as they were before the instruction (seen on the Xeon);
 *     AMD    the flags of the last completed iteration (the SDM's model; seen on an AMD
 *            EPYC (Zen 5): REPNE SCASB and REPE CMPSB faulting in their fifth iteration).
 *   x87 FOP and FDP after a non-control x87 instruction (SDM Vol. 1 8.1.8, 8.1.9):
 *     Intel  written only when the instruction leaves an unmasked exception pending
 *            (FOP compatibility off and FDP_EXCPTN_ONLY, every Intel CPU since Haswell;
 *            seen on the Xeon); FIP always.
 *     AMD    written by every such instruction (FNSTENV stores them, XRSTOR loads them),
 *            but FXSAVE and XSAVE store FOP, FIP and FDP as zero unless FSW.ES is set (AMD
 *            APM Vol. 5 FXSAVE, Vol. 2 11.4.4), though CPUID Fn8000_0008 EBX[2] says they
 *            are always saved; seen on an AMD EPYC (Zen 5). The emulator's image is what
 *            XSAVE stores (and what KVM_GET_XSAVE gives at the next exit anyway): all
 *            three zero after an x87 or MMX instruction that leaves ES clear.
 *   An MMX store (MOVD/MOVQ/MOVNTQ to memory) whose access faults (SDM Vol. 1 9.5.1 and AMD
 *   APM Vol. 1 ch. 5 say only that an MMX instruction sets TOP to 0 and the tags valid):
 *     Intel  has already set x87 TOP to 0, the tag word left as it was: the fault is
 *            delivered with that state (seen on the Xeon);
 *     AMD    changes nothing (seen on an AMD EPYC (Zen 5)).
 *   An MMX load that faults changes nothing on either.
 *   An x87 store (FST/FSTP/FIST/FISTP/FISTTP m) that an unmasked numeric exception
 *   suppresses (SDM Vol. 1 8.5, AMD APM Vol. 1 ch. 6: nothing is stored):
 *     Intel  makes no access, so cannot fault: FSW takes the exception (seen on the Xeon);
 *     AMD    checks the access first: a segment fault or #PF comes with the x87 state
 *            unchanged (seen on an AMD EPYC (Zen 5)).
 *   FSTP m80 across into a page that faults:
 *     Intel  two stores, the significand (8 bytes) then sign and exponent: when the second
 *            faults the first is in memory (seen on the Xeon);
 *     AMD    checks the same two parts in the same order (at a segment's limit the first
 *            one's #PF comes first), but writes nothing when the second faults (seen on an
 *            AMD EPYC (Zen 5), 64-bit and 16-bit protected mode).
 *   A near branch (E8, E9, 0F 8x) with 66h and no REX.W in 64-bit mode:
 *     Intel  ignores 66h: rel32, RIP not truncated (seen on the Xeon by the length probe);
 *     AMD    takes a rel16 and truncates RIP to 16 bits (AMD APM Vol. 3, near branches).
 *   The branches are not emulated; the decoder gives the host vendor's length.
 *   ROL/ROR of a register by an immediate count that is not 1 (after masking):
 *     Intel  leaves OF as it was (seen on the Xeon); the CL form and every memory form
 *            set OF (the SDM: undefined for counts other than 1).
 *     AMD    sets OF as the CL form does (seen on an AMD EPYC (Zen 5) by a user-space
 *            probe: counts 2, 3, 7 and 31, ROL and ROR, 32-bit, 800,000 random values and
 *            initial flags, OF, CF and the result never differed between the imm8 and CL
 *            forms): as the host CPU's CL form.
 *   Flags and bits the SDM leaves undefined after the shifts, rotates, SHLD/SHRD, MUL/IMUL,
 *   DIV/IDIV, BSF/BSR (the destination on a zero source), POPCNT/LZCNT/TZCNT, ADCX/ADOX and
 *   BMI1/BMI2 are whatever the CPU that runs the emulator does: xg_emu_x86_gp2.c runs the
 *   host's own instruction on the guest's values (a KVM guest runs on that CPU).
 *   XOP (8F with ModRM.reg != 0): AMD family 15h only; #UD on Intel and on AMD since Zen,
 *   and so #UD from the decoder. Likewise FEMMS and 3DNow! (0F 0E, 0F 0F): AMD before Zen.
 *   SYSCALL and SYSRET outside 64-bit mode (compatibility and legacy mode):
 *     Intel  #UD (seen on the Xeon by the length probe in compatibility mode);
 *     AMD    defined (with EFER.SCE); the decoder follows the host's vendor.
 *   A VEX/EVEX operand under a mask (an EVEX opmask other than k0, VMASKMOV, VPMASKMOV)
 *   at a segment limit:
 *     Intel  checks the limit of every enabled element before any page walk: #GP/#SS for
 *            an element past the limit, not #PF for an earlier one (seen on the Xeon in
 *            16-bit protected mode).
 *     AMD    element by element, each one's limit check, then its page walk: #PF for an
 *            earlier element comes first (seen on an AMD EPYC (Zen 5) in 16-bit protected
 *            and compatibility mode). An unmasked operand is one access on both.
 *   CMPS with both operands faulting (segment or paging):
 *     Intel  ES:rDI's fault first (seen on the Xeon);
 *     AMD    DS:rSI's first, the source operand's order (seen on an AMD EPYC (Zen 5) in
 *            compatibility mode: #PF with CR2 at rSI, #GP for an unusable GS:rSI before
 *            ES:rDI's #PF). Neither manual orders them.
 *   A VEX gather (VPGATHERDD ..., VGATHERQPD) stopped by a fault on an element:
 *     Intel  leaves its mask as whole elements (0 for the completed ones, all ones for the
 *            remaining active ones, 0 for inactive ones, the bits above the vector length
 *            zeroed) and zeroes the destination's bits above the vector length only if an
 *            element was loaded (seen on the Xeon);
 *     AMD    loads the active elements before the faulting one and zeroes the mask
 *            elements before it, active or not; everything else, above the vector length
 *            too, is left as it was (seen on an AMD EPYC (Zen 5)). EVEX gathers: the same
 *            on both (the opmask bits of the completed elements cleared).
 *   The PREFETCH group (0F 0D /0-/7: PREFETCH, PREFETCHW, aliases) with a register operand
 *   (ModRM.mod = 3):
 *     Intel  a NOP (seen on the Xeon for /1; QEMU TCG raises #UD for it on every vendor,
 *            as its M operand takes no register; KVM's emulator runs it as a NOP);
 *     AMD    #UD with every ModRM.reg and prefix (AMD APM Vol. 3 PREFETCH/PREFETCHW; seen
 *            on an AMD EPYC (Zen 5) in 64-bit and compatibility mode, with none, 66, F2,
 *            F3 and REX). The decoder raises it (xg_emu_x86_decode_vendor).
 *   MOVSXD (63 /r) with a 16-bit operand size (66h, no REX.W; 64-bit mode only):
 *     Intel  reads r/m16 (SDM Vol. 2 MOVSXD r16, r/m16);
 *     AMD    reads r/m32, as with every operand size (AMD APM Vol. 3 MOVSXD: reg/mem32),
 *            and writes its low 16 bits: a read that fits in 2 bytes before a missing
 *            page faults, and #AC checks 4-byte alignment; the destination's bits 63:16
 *            and the flags are kept (seen on an AMD EPYC (Zen 5) by a user-space probe).
 *   VPINSRQ/VPEXTRQ (VEX.W1 0F3A 22/16) outside 64-bit mode:
 *     Intel  VEX.W1 is ignored, they run as VPINSRD/VPEXTRD (SDM Vol. 2 PINSRD/PINSRQ,
 *            PEXTRD/PEXTRQ); the decoder makes W1 W0 there.
 *     AMD    #UD, register and memory forms (AMD APM Vol. 4 VPINSRQ/VPEXTRQ: 64-bit mode
 *            only; seen on an AMD EPYC (Zen 5) in compatibility and 16-bit protected
 *            mode). The EVEX.W1 forms, VMOVQ (VEX.W1 0F 6E/7E) and VCVTSI2SS/SD run as W0
 *            there as on Intel (t_emu_random finds no difference in them).
 *   SSE4A (AMD APM Vol. 4; CPUID 80000001H:ECX[6]): AMD only, #UD on Intel. The decoder
 *   gives every form its length (F3/F2 0F 2B MOVNTSS/MOVNTSD, 66/F2 0F 78/79 EXTRQ/INSERTQ;
 *   seen on an AMD EPYC (Zen 5) by the length probe); MOVNTSS/MOVNTSD are emulated under the
 *   guest's CPUID (#UD without SSE4A); EXTRQ/INSERTQ have register operands only, so no
 *   memory access of theirs can bring them to the emulator, and they are not handled.
 *   SALC (D6) outside 64-bit mode (not in the SDM's map): run by the Xeon and by an AMD
 *   EPYC (Zen 5), AL = CF ? FFh : 00h (seen there by a user-space probe in compatibility
 *   mode, CF clear and set, AL 5Ah before); #UD in 64-bit mode (seen on the EPYC; the
 *   decoder's F_NO64).
 *   A data access through a segment with a 4 GiB limit (a flat one) that runs past offset
 *   0xffffffff (the SDM, Vol. 3A 5.3: "may or may not" fault at that limit):
 *     Intel  no limit to pass: the access wraps to 0 and can only page-fault (seen on the
 *            Xeon in compatibility mode, #PF at 0xfffffffe).
 *     AMD    a limit violation like any other, #GP(0) (#SS(0) through SS), before any page
 *            walk (APM Vol. 2 4.12; seen on an AMD EPYC (Zen 5) in compatibility mode,
 *            general-purpose, x87, SSE, AVX and AVX-512 operands), except FXSAVE/FXRSTOR's
 *            image past its first four bytes, which wraps as on Intel (#PF on the image's
 *            last byte at its wrapped offset; the next entry).
 *   FXSAVE/FXRSTOR's image and its checks (neither the SDM nor AMD APM Vol. 4 FXSAVE orders
 *   them, nor says how the 512 bytes wrap):
 *     Intel  the first byte's segment or canonical check, the 16-byte alignment #GP(0),
 *            the last byte's check and page walk, then the image, at offsets that do not
 *            wrap with a 16-bit address size (an image past 0xffff is past a 64 KiB
 *            limit); the order seen on the Xeon (below), the 64 KiB case not measured.
 *     AMD    the first four bytes' segment check (against any limit, a 4 GiB one too) or
 *            canonical check, then the alignment (#SS(0) for SS:0xfffe, not #GP(0)); the
 *            image's offsets wrap at the address size (64 KiB with a 16-bit one, 4 GiB with
 *            a 32-bit one, in 64-bit mode too): the last byte at its wrapped offset (0x1ef
 *            for an image at 0xfff0), its check and page walk, the first byte's page walk,
 *            then the image piece by piece, each side of the wrap checked against the
 *            limit (at 0xfff0 with a 0xffff limit both instructions complete, with a
 *            0xfff8 limit #PF on the first byte's page comes before the #GP/#SS). Seen on
 *            an AMD EPYC (Zen 5) by a user-space probe in 16-bit protected, compatibility
 *            and 64-bit mode.
 * Not vendor differences, but what the CPU does where the SDM is silent (seen on the Xeon,
 * modelled for both): every instruction but CMPS (above) checks its accesses in order (segment
 * and paging, access by access); in 64-bit mode 26/2E/36/3E prefixes are ignored entirely;
 * FNSTENV/FLDENV across into a page that faults report CR2 = the environment's last byte
 * unless the first field (4 bytes, 2 in the 14-byte form) already crosses, then the page's
 * first byte; MOVDIR64B raises the source's #PF before the destination's alignment #GP;
 * FXSAVE/FXRSTOR check segment and canonical form, then the
 * 16-byte alignment, then page-fault on the image's last byte before its first (FXSAVE too,
 * though it does not write bytes 464-511).
 * Seen in 16-bit protected mode (segment bases at any byte): the alignment of movaps and its
 * kind is checked on the linear address, not the offset; FLD m80, like Intel's FSTP m80, is
 * two accesses (8 bytes, then 2), so at a limit the first one's #PF comes first.
 */
enum xg_emu_x86_vendor {
	XG_EMU_X86_VENDOR_HOST = 0,
	XG_EMU_X86_VENDOR_INTEL,
	XG_EMU_X86_VENDOR_AMD,
};
/* The vendor of CPUID leaf 0's EBX, ECX, EDX: AMD for AuthenticAMD and HygonGenuine, INTEL
 * for every other string. */
enum xg_emu_x86_vendor xg_emu_x86_vendor_of(uint32_t ebx, uint32_t ecx, uint32_t edx);
/* The host CPU's vendor, by the same rule. */
enum xg_emu_x86_vendor xg_emu_x86_host_vendor(void);
const char *xg_emu_x86_vendor_name(enum xg_emu_x86_vendor v);

/* The scalar register state. cpl is taken from SS.DPL (SDM Vol. 3A 5.5). */
struct xg_emu_x86_regs {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	struct xg_emu_x86_segment seg[XG_EMU_X86_NSEG];
	uint64_t cr0, cr2, cr3, cr4, efer, xcr0;
	uint8_t vendor; /* enum xg_emu_x86_vendor; read only, set_regs may ignore it */
	/* For set_regs, from the emulator: 1 when gpr[] is what get_regs gave (the instruction
	 * wrote no GPR), so that a VMM may write RIP and RFLAGS alone; 0 otherwise. get_regs
	 * need not set it; set_regs may ignore it and write every GPR. */
	uint8_t gprs_unchanged;
	/* The system-table registers (SDM Vol. 3A 2.4), read only, for people reading dumps;
	 * the emulator does not use them. has_tables is 0 when get_x86_regs leaves them out. */
	uint8_t has_tables;
	struct xg_emu_x86_segment tr, ldtr;
	uint64_t gdtr_base, idtr_base;
	uint16_t gdtr_limit, idtr_limit;
};

/*
 * Vector state is the standard (non-compacted) XSAVE layout, SDM Vol. 1 13.4: the legacy
 * FXSAVE region (x87 FCW/FSW/FTW/FOP/FIP/FDP, MXCSR, ST0-7, XMM0-15), the XSAVE header, then
 * the AVX (YMM_Hi128), opmask, ZMM_Hi256 and Hi16_ZMM components. Each extended component
 * sits at CPUID.(EAX=0DH,ECX=i).EBX (SDM Vol. 1 13.4.3), and CPUs differ: Intel places the
 * AVX-512 components after the MPX area (1088, 1152, 1664), AMD, which has no MPX, right
 * after AVX (832, 896, 1408: seen on an AMD EPYC with AVX-512). The image is this host's
 * (its XSAVE's, and KVM_GET_XSAVE's, which uses the host's offsets), so those three offsets
 * are this CPU's, read once when the library is loaded (Intel's where the CPU has no
 * AVX-512: nothing is there then). AVX (576) is the same everywhere. A component whose
 * XSTATE_BV bit is clear is in its initial state. In the image it writes back (set_xsave)
 * the emulator sets the bit of every component it left out of its initial configuration,
 * and leaves clear the bit of an AVX, opmask, ZMM_Hi256 or Hi16_ZMM component the vCPU had
 * initial and the instruction left all zeros (so the vCPU does not carry state it never
 * used), and of x87 the same when its registers are still initial; SSE it marks in use.
 * XG_EMU_X86_XSAVE_SIZE is the largest image the
 * emulator touches.
 */
#define XG_EMU_X86_XSAVE_SIZE	2688
#define XG_EMU_X86_XS_FCW	0
#define XG_EMU_X86_XS_FSW	2
#define XG_EMU_X86_XS_FTW	4 /* abridged: one bit per physical register, 1 = valid */
#define XG_EMU_X86_XS_FOP	6
#define XG_EMU_X86_XS_FIP	8
#define XG_EMU_X86_XS_FDP	16
#define XG_EMU_X86_XS_MXCSR	24
#define XG_EMU_X86_XS_ST0	32  /* ST(i) at 32 + 16 * i, 80 bits each */
#define XG_EMU_X86_XS_XMM0	160 /* XMM(i) bits 127:0 at 160 + 16 * i, i < 16 */
#define XG_EMU_X86_XS_XSTATE_BV 512
#define XG_EMU_X86_XS_YMMH	576 /* YMM(i) bits 255:128 at 576 + 16 * i */
extern struct xg_emu_x86_xs_layout {
	unsigned opmask, zmmh, hi16zmm;
} xg_emu_x86_xs_layout;
#define XG_EMU_X86_XS_OPMASK  (xg_emu_x86_xs_layout.opmask)  /* k(i) at + 8 * i */
#define XG_EMU_X86_XS_ZMMH    (xg_emu_x86_xs_layout.zmmh)    /* ZMM(i) 511:256 at + 32 * i */
#define XG_EMU_X86_XS_HI16ZMM (xg_emu_x86_xs_layout.hi16zmm) /* ZMM(16 + i) at + 64 * i */
/* the end of the AVX-512 state: what follows (PKRU at 2432 on AMD) is not the emulator's */
#define XG_EMU_X86_XS_AVX512_END (XG_EMU_X86_XS_HI16ZMM + 1024)
/* the two vendors' layouts (SDM Vol. 1 13.4.3; AMD's as its EPYCs with AVX-512 say) */
extern const struct xg_emu_x86_xs_layout xg_emu_x86_xs_intel, xg_emu_x86_xs_amd;
/* The AVX-512 components' sizes, the same on every CPU (SDM Vol. 1 13.2: CPUID.(EAX=0DH,
 * ECX=5..7).EAX; 8 opmask registers of 8 bytes, 16 upper halves of 32, 16 ZMM of 64). */
#define XG_EMU_X86_XS_OPMASK_SIZE  64
#define XG_EMU_X86_XS_ZMMH_SIZE	   512
#define XG_EMU_X86_XS_HI16ZMM_SIZE 1024

/*
 * Images of another host: a record made on an AMD host and read on an Intel one (or the
 * reverse) holds images with the other vendor's offsets.
 *
 * xg_emu_x86_xs_layout_check: 0 when an image of `size` bytes can hold the three components
 * at l's offsets: each past the legacy region, the XSAVE header and the AVX component (all
 * at fixed places, SDM Vol. 1 13.4.1-13.4.3; the emulator reads YMM_Hi128 at 576), inside the
 * image, and no two overlapping; else -1 with what is wrong in why[0..n) ("the opmask
 * component at 520 overlaps the XSAVE header (512-575)").
 *
 * xg_emu_x86_xs_move: the image src (XG_EMU_X86_XSAVE_SIZE bytes, components at `from`'s
 * offsets) into dst with them at `to`'s. The three components are copied whole from their
 * old places to their new ones; the rest of the image (legacy region, header with
 * XSTATE_BV, AVX, what lies outside both layouts' components) is copied unchanged; the bytes
 * that were a component in `from` and are none in `to` (MPX's place on Intel for an AMD
 * image, PKRU's on AMD for an Intel one) are zero: nothing of the other host says what was
 * there. dst and src must not overlap; both layouts must pass the check (else dst is src's
 * copy unchanged and -1 is returned).
 */
int xg_emu_x86_xs_layout_check(const struct xg_emu_x86_xs_layout *l, unsigned size, char *why,
			       size_t n);
int xg_emu_x86_xs_move(void *dst, const void *src, const struct xg_emu_x86_xs_layout *from,
		       const struct xg_emu_x86_xs_layout *to);
/* Component i (0 opmask, 1 ZMM_Hi256, 2 Hi16_ZMM: XSTATE_BV bits 5-7) at l's offsets: its
 * offset, and its size in *size. */
unsigned xg_emu_x86_xs_comp(const struct xg_emu_x86_xs_layout *l, unsigned i, unsigned *size);
/*
 * xg_emu_x86_xs_explicit: the image xs (XG_EMU_X86_XSAVE_SIZE bytes, this host's layout) with
 * every x87, SSE, AVX and AVX-512 component whose XSTATE_BV bit is clear written out with its
 * initial values (SDM Vol. 1 13.6: FCW 037FH, the rest zeros; MXCSR is not part of it), its
 * XSTATE_BV left as it is: what the emulator works on.
 *
 * xg_emu_x86_xs_state: src as the register state it loads, into dst: src made explicit and
 * its XSAVE header zeroed. Two images give the same dst exactly when XRSTOR of either loads
 * the same registers, whichever of them marks a component in use that holds its initial
 * values: what `exitgate replay` compares.
 */
void xg_emu_x86_xs_explicit(void *xs);
void xg_emu_x86_xs_state(void *dst, const void *src);

/* The largest access ops->read/write are given (a device access, exitgate.h's mmio_read/
 * mmio_write, is at most this): longer operands (FXSAVE/FXRSTOR) come in pieces. */
#define XG_EMU_X86_MAX_ACCESS 64

/* Kinds of memory access, for ops->translate/read/write and the #PF error code. */
enum xg_emu_x86_access {
	XG_EMU_X86_READ = 1,
	XG_EMU_X86_WRITE = 2,
	XG_EMU_X86_RMW = 3, /* read then written: translated for write */
	XG_EMU_X86_FETCH = 4,
};

/* Exception vectors (SDM Vol. 3A 6.15). */
enum {
	XG_EMU_X86_DE = 0,
	XG_EMU_X86_UD = 6,
	XG_EMU_X86_NM = 7,
	XG_EMU_X86_SS_FAULT = 12,
	XG_EMU_X86_GP = 13,
	XG_EMU_X86_PF = 14,
	XG_EMU_X86_MF = 16,
	XG_EMU_X86_AC = 17,
	XG_EMU_X86_XM = 19,
};

struct xg_emu_x86_exception {
	uint8_t vector;
	uint8_t has_error;
	uint32_t error;
	uint64_t cr2; /* #PF only: the faulting linear address */
};

/* Named stages, in the order they run (see the top of this file). */
enum xg_emu_x86_stage {
	XG_EMU_X86_STAGE_DECODE = 0,
	XG_EMU_X86_STAGE_LEGALITY,
	XG_EMU_X86_STAGE_DEVICE,
	XG_EMU_X86_STAGE_PRIVILEGE,
	XG_EMU_X86_STAGE_ALIGNMENT,
	XG_EMU_X86_STAGE_CANONICAL,
	XG_EMU_X86_STAGE_TRANSLATE,
	XG_EMU_X86_STAGE_READ,
	XG_EMU_X86_STAGE_WRITEBACK,
	XG_EMU_X86_STAGE_EXCEPTION, /* before an exception is injected */
	XG_EMU_X86_NSTAGES
};
const char *xg_emu_x86_stage_name(enum xg_emu_x86_stage stage);

/* Outcome of decode or emulate. */
enum xg_emu_x86_status {
	XG_EMU_X86_OK = 0,	/* emulated (or decoded); RIP advanced */
	XG_EMU_X86_EXCEPTION,	/* an exception was found and injected; nothing else changed */
	XG_EMU_X86_NOT_HANDLED, /* valid instruction the emulator does not do: see reason */
	XG_EMU_X86_VETOED,	/* a stage hook said no; nothing changed */
	XG_EMU_X86_ERROR,	/* an ops callback failed (host problem); see reason */
	XG_EMU_X86_TRUNCATED,	/* decode only: the bytes end inside the instruction */
};
const char *xg_emu_x86_status_name(enum xg_emu_x86_status st);

/* Encodings and opcode maps. */
enum { XG_EMU_X86_ENC_LEGACY = 0, XG_EMU_X86_ENC_VEX, XG_EMU_X86_ENC_EVEX };
enum { XG_EMU_X86_MAP_1B = 0, XG_EMU_X86_MAP_0F, XG_EMU_X86_MAP_0F38, XG_EMU_X86_MAP_0F3A };

#define XG_EMU_X86_NOREG 0xff

/* One decoded instruction. Register numbers include REX/VEX/EVEX extension bits. */
struct xg_emu_x86_insn {
	uint8_t bytes[15];
	uint8_t len;
	uint8_t mode;	  /* 16, 32 or 64: the code segment's default size */
	uint8_t opsize;	  /* 1, 2, 4 or 8 (general-purpose operand size) */
	uint8_t addrsize; /* 2, 4 or 8 */
	uint8_t enc, map, opcode;
	uint8_t pfx; /* mandatory-prefix slot: 0 none, 1 66, 2 F3, 3 F2 */
	uint8_t rep; /* 0, 0xf3 or 0xf2: the last of F2/F3 seen */
	uint8_t lock, opsize_pfx, addr_pfx;
	uint8_t rex; /* the REX byte (0 if none) */
	uint8_t has_modrm, modrm, mod, reg, rm;
	uint8_t seg;	      /* effective segment of the memory operand */
	uint8_t seg_override; /* 1 if a segment prefix chose it */
	/* Memory operand (mod != 3, moffs, or string): base/index are GPR numbers or NOREG. */
	uint8_t has_mem, base, index, scale, rip_rel, vsib;
	int64_t disp;
	uint64_t imm;
	uint8_t imm_size;
	uint8_t imm2; /* the second immediate of enter */
	/* VEX/EVEX fields: vvvv already inverted and extended with EVEX.V' */
	uint8_t vvvv, vl, w, aaa, z, bcast, disp8n;
	/* vvvv as encoded (inverted), EVEX.V' as bit 4: what "vvvv must be 1111b" checks, in
	 * every mode (outside 64-bit mode vvvv/vvvv[3]/V' do not name registers but still
	 * count, SDM Vol. 2 2.3.6 and 2.7) */
	uint8_t vvvv_enc;
	/* W as encoded, before the rules that make it 0 outside 64-bit mode (MOVD/MOVQ,
	 * PINSRD/Q, PEXTRD/Q, CVTSI2SS ...): AMD's VPINSRQ/VPEXTRQ there are #UD (the vendor
	 * list) */
	uint8_t w_enc;
	uint16_t op;	  /* semantic operation (internal numbering), 0 if not implemented */
	uint16_t aux;	  /* its parameter (internal) */
	uint64_t flags;	  /* the opcode's table flags (internal) */
	const char *name; /* mnemonic when known */
};

/* The code size the registers run at: real and virtual-8086 mode (CR0.PE clear, RFLAGS.VM
 * set) 16, IA-32e mode (EFER.LMA) with CS.L 64, otherwise CS.D picks 32 or 16 (SDM Vol. 3A
 * 3.4.5, 5.2.1). The emulator decodes in it; dumps and e.disasm disassemble in it. Inline: the
 * arm64 build, which has no x86 emulator, disassembles x86 dumps with it too. */
static inline unsigned xg_emu_x86_code_bits(const struct xg_emu_x86_regs *r)
{
	if (!(r->cr0 & 1) || (r->rflags & (1ull << 17)))
		return 16;
	if ((r->efer & (1ull << 10)) && r->seg[XG_EMU_X86_CS].l)
		return 64;
	return r->seg[XG_EMU_X86_CS].db ? 32 : 16;
}

/*
 * Decode one instruction from `bytes` (at most `n` of them are read). `mode` is 16, 32 or 64;
 * `real` is 1 in real or virtual-8086 mode (VEX/EVEX are then LES/LDS/BOUND).
 * Returns OK, EXCEPTION (*exc set: #UD for an invalid opcode, #GP(0) past 15 bytes),
 * TRUNCATED, or NOT_HANDLED (a valid-looking encoding the decoder does not model; `reason`,
 * if not NULL, receives a sentence of at most 96 bytes).
 */
enum xg_emu_x86_status xg_emu_x86_decode(const uint8_t *bytes, size_t n, unsigned mode, int real,
					 struct xg_emu_x86_insn *insn,
					 struct xg_emu_x86_exception *exc, char *reason);
/* The same for a guest of `vendor`'s CPU where the vendors decode a form differently (0F 0D
 * with a register operand: the vendor list above); xg_emu_x86_decode is it with
 * XG_EMU_X86_VENDOR_HOST, and the emulator calls it with xg_emu_x86_regs.vendor. */
enum xg_emu_x86_status xg_emu_x86_decode_vendor(const uint8_t *bytes, size_t n, unsigned mode,
						int real, enum xg_emu_x86_vendor vendor,
						struct xg_emu_x86_insn *insn,
						struct xg_emu_x86_exception *exc, char *reason);

/*
 * What the emulator may do to the vCPU and its memory. Callbacks return 0 on success and a
 * negative errno on a host failure (the emulation then stops with XG_EMU_X86_ERROR before any
 * write, when the failure is in a read or a translation).
 */
struct xg_emu_x86_ops {
	int (*get_regs)(void *opaque, struct xg_emu_x86_regs *regs);
	int (*set_regs)(void *opaque, const struct xg_emu_x86_regs *regs);
	/* XG_EMU_X86_XSAVE_SIZE bytes, standard format; called only for x87/SSE/AVX insns
	 * (lend_xsave below, when given, replaces the copies) */
	int (*get_xsave)(void *opaque, void *xsave);
	int (*set_xsave)(void *opaque, const void *xsave);
	/*
	 * Translate linear address `la` for an access of `kind` at privilege `cpl`. Returns 0
	 * if the access may proceed, 1 if it page-faults (fill *pf_error with the #PF error code,
	 * SDM Vol. 3A 4.7), or a negative errno.
	 */
	int (*translate)(void *opaque, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
			 uint32_t *pf_error);
	/* Accesses never cross a 4 KiB page and are at most XG_EMU_X86_MAX_ACCESS bytes; they
	 * were translated first. */
	int (*read)(void *opaque, uint64_t la, void *buf, unsigned size,
		    enum xg_emu_x86_access kind);
	int (*write)(void *opaque, uint64_t la, const void *buf, unsigned size);
	/* Deliver an exception to the guest. */
	int (*inject)(void *opaque, const struct xg_emu_x86_exception *exc);
	/* Optional: called as each stage passes (exc non-NULL only for STAGE_EXCEPTION, called
	 * before ops->inject). Non-zero vetoes: nothing is written, nothing injected. */
	int (*hook)(void *opaque, enum xg_emu_x86_stage stage, const struct xg_emu_x86_insn *insn,
		    const struct xg_emu_x86_exception *exc);
	/* Optional: the guest's CPUID leaf/sub-leaf (EAX, EBX, ECX, EDX in out[]), asked for
	 * the features of an SSE/AVX/AVX-512 instruction run in a host stub and of the
	 * general-purpose ones that have one (MOVBE, POPCNT, LZCNT/TZCNT, CRC32, ADX, BMI1/2,
	 * MOVDIRI, MOVDIR64B, CLFLUSH/CLFLUSHOPT/CLWB, SSE4A's MOVNTSS/MOVNTSD): an instruction
	 * the guest's CPU lacks is #UD. Without it the guest is taken to have the host's. */
	int (*cpuid)(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
	/* Optional: the stages the hook is called at, bit (1u << stage) for each; 0 (what a
	 * zeroed struct holds) means every stage. Nine stages pass per instruction: a hook that
	 * looks at one or two says which, and the others cost nothing. */
	uint32_t hook_stages;
	/*
	 * Optional, both or neither: the vector state without copies. lend_xsave sets *xsave to
	 * the VMM's own copy of the vCPU's current image (standard layout, at least
	 * XG_EMU_X86_XSAVE_SIZE bytes, valid until the emulation returns) instead of get_xsave
	 * copying it out; -EOPNOTSUPP means not now (get_xsave is used), another negative errno
	 * is a host failure. XG_EMU_X86_LENT_EXPLICIT (1) instead of 0 says that every component
	 * whose XSTATE_BV bit is clear already holds its initial values in the image (what
	 * KVM_GET_XSAVE writes); with 0 the emulator writes them there first. The emulator
	 * then works in that image: it writes it with set_xsave(opaque, *xsave), the same
	 * pointer (the VMM writes its copy to the vCPU without a copy), or, when it changed
	 * the image and does not write it (a veto, an exception, a host failure, or only the
	 * initial-state components made explicit or their XSTATE_BV bits set),
	 * calls discard_xsave before it returns: the copy no longer matches the vCPU, and the
	 * VMM reads the vCPU's again before its next use. Without them: get_xsave/set_xsave.
	 */
	int (*lend_xsave)(void *opaque, void **xsave);
	int (*discard_xsave)(void *opaque);
	/* Optional: XCR0 read again, asked only when the copy get_regs gave would make a VEX or
	 * EVEX instruction #UD for a component it lacks (SDM Vol. 1 13.3). A VMM that keeps
	 * XCR0 rather than reading it every exit (it costs an ioctl on KVM: KVM_GET_XCRS, and
	 * the guest's XSETBV never exits to user space) gives the current value here, so that
	 * a guest that enabled AVX or AVX-512 after the copy was made is not refused. 0, or a
	 * negative errno (the copy then decides). */
	int (*get_xcr0)(void *opaque, uint64_t *xcr0);
};
#define XG_EMU_X86_LENT_EXPLICIT 1 /* lend_xsave: components in their initial state hold it */

struct xg_emu_x86_result {
	enum xg_emu_x86_status status;
	enum xg_emu_x86_stage stage; /* the stage that decided the outcome */
	struct xg_emu_x86_exception exc;
	struct xg_emu_x86_insn insn;
	char reason[96]; /* "not handled: ..." / error text; empty when OK */
};

/*
 * Emulate the instruction at the guest's CS:RIP. `bytes`/`n` are the instruction bytes as
 * the hypervisor reported them (may be NULL/0, or shorter than the instruction: the rest is
 * fetched through ops with XG_EMU_X86_FETCH).
 */
enum xg_emu_x86_status xg_emu_x86_emulate(const struct xg_emu_x86_ops *ops, void *opaque,
					  const uint8_t *bytes, size_t n,
					  struct xg_emu_x86_result *res);

/*
 * The memo: the instructions a vCPU exits on again and again (a driver's copy loop), kept
 * decoded and checked, so that a repeat skips the pipeline's generic machinery.
 *
 * xg_emu_x86_emulate_memo() has xg_emu_x86_emulate()'s contract and outcome in every case:
 * the same ops calls in the same order with the same arguments (registers, vector state,
 * translations, reads, writes, injection), the same result. With `memo` NULL it is
 * xg_emu_x86_emulate(). Otherwise, when the bytes (all of the instruction within `n`) match
 * an entry compiled in the same operating mode, and the registers just read show that the
 * pipeline would take its plain path - CR0.EM/TS, CR4.OSFXSR/OSXSAVE and XCR0 let the
 * instruction run (SDM Vol. 3A 2.5, Vol. 1 13.3), the memory operand passes its segment's
 * usability, type and limit checks outside 64-bit mode or is canonical in it (Vol. 3A 3.4.5,
 * 5.3, Vol. 1 3.3.7.1), is aligned where the instruction needs it (#GP) and raises no #AC
 * (Vol. 3A 6.15) - it runs a short path: the DECODE hook, the vector state read, the page
 * translations, the reads, the move and the pipeline's own write-back. A #PF or a host
 * failure from those calls ends it as the pipeline would. Any other case (a check that would
 * fault, a miss) hands the instruction, with nothing done, to the full pipeline; when that
 * completes one of the memo's classes, it may be compiled into the memo (see Replacement
 * below). The classes: GP MOV between a register and memory (88, 89, 8A,
 * 8B, A0-A3, every operand size), MOV of an immediate to memory (C6, C7), MOVZX, MOVSX and
 * MOVSXD from memory, and the full-width vector moves between memory and XMM/YMM/ZMM
 * without a mask (legacy movups/movaps/movupd/movapd/movdqu/movdqa, the non-temporal movnt
 * forms and lddqu, their VEX forms, EVEX with no opmask, vmovdqu8/16/32/64 included). None of
 * them has a guest CPUID gate in the pipeline, so none has one here.
 *
 * Hooks: a memo is used with an ops->hook only when hook_stages is exactly the DECODE stage
 * (exitgate's bridge: its veto looks at the decoded instruction alone). The hook is called
 * on every hit too, with the memo's decoded instruction, as the pipeline would after its
 * decode; its veto vetoes. With a hook at any other stage the memo is not used (the
 * pipeline runs and nothing is compiled).
 *
 * Replacement: an instruction the pipeline completed, all of it within the bytes given (a
 * lookup could not find one whose rest was fetched), goes into an empty entry, or else into
 * one whose use count is 0; with none, it is not compiled (the pipeline ran; nothing else
 * is paid). A hit adds one to its entry's use count (up to XG_EMU_X86_MEMO_USE_MAX), and
 * every XG_EMU_X86_MEMO_WINDOW calls all use counts are halved. So an entry hit at least once
 * per window is never replaced: a working set that fits keeps hitting whatever else comes
 * by, a cycle of more instructions than entries keeps XG_EMU_X86_MEMO_ENTRIES of them hitting
 * and compiles nothing more, and a stream of one-off instructions compiles at most
 * XG_EMU_X86_MEMO_ENTRIES times per window. An entry whose short path hands over
 * XG_EMU_X86_MEMO_PARK times in a row (a state it leaves to the pipeline, e.g. an expand-down
 * segment) is parked: its bytes go straight to the pipeline, without its checks and without
 * a compile, until its use count (set to XG_EMU_X86_MEMO_PARK_USE) has aged to 0; then it is
 * compiled again and tried anew. The counters hits, misses, compiles and handovers say what
 * happened (for benchmarks and tests).
 *
 * The memo is caller-owned, fixed-size and allocates nothing; a zeroed one is empty. One
 * memo serves one vCPU (one thread at a time); entries are compiled from the bytes and the
 * mode alone, so a memo may outlive state changes of its vCPU (mode switches, paging,
 * segments): nothing of that is assumed without being checked again.
 */
#define XG_EMU_X86_MEMO_ENTRIES	 4
#define XG_EMU_X86_MEMO_WINDOW	 32 /* calls between two halvings of the use counts */
#define XG_EMU_X86_MEMO_USE_MAX	 15 /* a use count's ceiling: 4 windows unused empty it */
#define XG_EMU_X86_MEMO_PARK	 8  /* hand-overs in a row that park an entry */
#define XG_EMU_X86_MEMO_PARK_USE 8  /* a parked entry's use count: 3-4 windows parked */
/*
 * One translation kept from one exit to the next for the direct path's translate op (a TLB of
 * one page that is checked, not trusted): the paging entries a 4- or 5-level walk read, where
 * the VMM lends them (host pointers, valid while *genp is gen: exitgate.h ram_gen) and the
 * values they held, under which registers and access. It stands only while every entry still
 * holds its value: the same entries with the same values are the same walk (each entry's
 * address comes from the one before it and la), so a guest that rewrites its tables, even
 * without INVLPG, gets a new walk. The emulator only hosts it, in its memo (zeroed with it:
 * mode 0 is empty); action/x86_walk.c (xg_x86_walk_tlb) fills and checks it.
 */
struct xg_emu_x86_tlb {
	/* the key, then the entries */
	uint64_t gen;	      /* *genp when filled */
	const uint64_t *genp; /* the VMM's counter (its ops' ram_gen) */
	uint64_t cr3;
	uint64_t page; /* la >> 12 */
	uint64_t gpa;  /* the 4 KiB page la is in, at its GPA */
	uint32_t mode; /* the paging bits, access and CPL the walk decided under; 0: empty */
	uint32_t n;    /* entries read */
	const volatile uint64_t *p[5];
	uint64_t e[5];
};

struct xg_emu_x86_memo {
	/* the keys first, in one cache line: the instruction's length (0: empty) and bytes */
	struct {
		uint8_t len;
		uint8_t bytes[15];
	} key[XG_EMU_X86_MEMO_ENTRIES];
	struct xg_emu_x86_memo_entry {
		uint8_t mode, real; /* the decoder's mode it was compiled in */
		uint8_t cls;	    /* internal: which short path */
		uint8_t size;	    /* the memory operand's bytes */
		uint8_t reg;	    /* the register operand */
		uint8_t use;	    /* hits, halved every window (see Replacement) */
		uint8_t handover;   /* hand-overs in a row; XG_EMU_X86_MEMO_PARK: parked */
		struct xg_emu_x86_insn insn;
	} ent[XG_EMU_X86_MEMO_ENTRIES];
	uint32_t tick; /* calls since the use counts were last halved */
	/* short paths run; pipeline runs; entries compiled; short paths handed over */
	uint64_t hits, misses, compiles, handovers;
	/* the direct path's last translation, for its caller's translate op (not used here) */
	struct xg_emu_x86_tlb tlb;
};

enum xg_emu_x86_status xg_emu_x86_emulate_memo(const struct xg_emu_x86_ops *ops, void *opaque,
					       const uint8_t *bytes, size_t n,
					       struct xg_emu_x86_memo *memo,
					       struct xg_emu_x86_result *res);

/*
 * The memo's direct path: a repeated instruction the memo compiled, run on the registers
 * where a KVM VMM keeps them, with no working copy and no register conversion.
 *
 * The registers are KVM's own structures (api.rst 4.11 KVM_GET_REGS, 4.13 KVM_GET_SREGS),
 * as kvm_run carries them with KVM_CAP_SYNC_REGS (api.rst 5, "kvm_run": s.regs): the VMM
 * passes pointers to them, and the direct path reads them there and writes RIP, RFLAGS and a
 * GPR back in place (after ops->regs_put). The two structures below have those layouts
 * (the KVM backend asserts it; xg_emu_x86_segment is kvm_segment's).
 *
 * xg_emu_x86_memo_direct() returns 0, "not taken", having changed nothing and accessed no
 * guest memory or device (it may have called lend_xsave, which only reads), unless every
 * one of these holds: 64-bit mode (CR0.PE, EFER.LMA, CS.L, not virtual-8086); the bytes
 * match a memo entry compiled in 64-bit mode, not parked, of a GP class or a legacy or VEX
 * vector move (no EVEX); the checks of the short path pass (CR0.EM/TS, CR4.OSFXSR/OSXSAVE,
 * XCR0; the operand canonical, aligned where the instruction needs it, no #AC); the operand
 * lies within one 4 KiB page; its translation does not fault; for a vector move, the VMM
 * lends its XSAVE image, explicit (XG_EMU_X86_LENT_EXPLICIT) when a component has to be
 * marked in use. The caller then runs xg_emu_x86_emulate_memo() as usual, which decides
 * every case the direct path leaves (faults included) and compiles what is to be compiled.
 *
 * Taken, it returns 1 with the outcome in res as xg_emu_x86_emulate_memo() would give it
 * (res->insn, and res->reason when the status is OK, left as they were when d->no_insn):
 * status OK, or ERROR with the reason when the VMM failed a read, a write or set_xsave
 * after the access began (a device read may have side effects: it is not done again). The
 * effects are the short path's: the memory operand read (RAM or device) or written, the
 * register or vector register written (XSTATE_BV as the short path leaves it: SSE marked
 * in use, AVX for a VEX move unless its YMM upper half is still all zeros, x87 as it was),
 * RIP past
 * the instruction and RFLAGS.RF clear; the memo counts a hit. No hook is called: the caller's
 * DECODE hook, if it has one, must be one that never vetoes a legacy or VEX move (exitgate's
 * bridge vetoes only EVEX instructions that need AVX-512 state).
 */
struct xg_emu_x86_kvm_regs { /* struct kvm_regs; q[] the same 18 quadwords by index */
	union {
		struct {
			uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
			uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
			uint64_t rip, rflags;
		};
		uint64_t q[18];
	};
};
struct xg_emu_x86_kvm_sregs { /* the start of struct kvm_sregs, up to apic_base */
	struct xg_emu_x86_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct {
		uint64_t base;
		uint16_t limit, pad[3];
	} gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};
struct xg_emu_x86_direct_ops {
	/* la to a GPA for an access of `kind` (XG_EMU_X86_READ or WRITE) at privilege cpl,
	 * walking the guest's page tables under `paging` (only its cr0, cr3, cr4 and efer are
	 * set): 0 with *gpa, 1 if it would fault, a negative errno when a table cannot be read
	 * (both: not taken) */
	int (*translate)(void *opaque, const struct xg_emu_x86_regs *paging, uint64_t la,
			 unsigned kind, unsigned cpl, uint64_t *gpa);
	/* the access at a GPA, RAM or device, within one page: 0 or a negative errno */
	int (*read)(void *opaque, uint64_t gpa, void *buf, unsigned size);
	int (*write)(void *opaque, uint64_t gpa, const void *buf, unsigned size);
	/* the VMM's XSAVE image as xg_emu_x86_ops lend_xsave/set_xsave/discard_xsave */
	int (*lend_xsave)(void *opaque, void **xsave);
	int (*set_xsave)(void *opaque, const void *xsave);
	int (*discard_xsave)(void *opaque);
	/* before RIP, RFLAGS (and a GPR, gprs = 1) are written in the registers: the VMM has
	 * KVM take them at the next KVM_RUN (KVM_SYNC_X86_REGS in kvm_dirty_regs) */
	void (*regs_put)(void *opaque, int gprs);
};
struct xg_emu_x86_direct {
	struct xg_emu_x86_kvm_regs *regs;
	const struct xg_emu_x86_kvm_sregs *sregs;
	uint64_t xcr0;
	const struct xg_emu_x86_direct_ops *ops;
	void *opaque;
	/* nonzero: taken, res->insn is left as it was, and res->reason too when the status
	 * is OK (a caller that reads res's status and stage, and the reason of a failure
	 * only); 0: filled as xg_emu_x86_emulate_memo() fills it */
	int no_insn;
};
int xg_emu_x86_memo_direct(struct xg_emu_x86_memo *memo, const uint8_t *bytes, size_t n,
			   const struct xg_emu_x86_direct *d, struct xg_emu_x86_result *res);

/* 1 if the decoded instruction is one the emulator implements (for an SSE/AVX/AVX-512
 * instruction run in a host stub: and the host CPU can run it). */
int xg_emu_x86_supported(const struct xg_emu_x86_insn *insn);

/* 1 if the decoded instruction writes an opmask register (an EVEX compare into k): a VMM
 * that cannot carry the opmask state cannot take its result. */
int xg_emu_x86_writes_opmask(const struct xg_emu_x86_insn *insn);

#ifdef __cplusplus
}
#endif

#endif
