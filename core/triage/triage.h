/*
 * triage.h - reading what a VMM or the kernel printed when a KVM guest stopped, and saying
 * what happened.
 *
 * The input is text a person pasted: QEMU's "KVM internal error. Suberror: N" blocks in
 * every form QEMU has printed them (modern "extra data[i]: 0x%016x", the old bare hex, the
 * qemu-kvm 0.12 lowercase register dump), cpu_dump_state register dumps and their "Code="
 * line, "KVM: entry failed, hardware error 0x...", arm64 "kvm run failed ..." with its X0..X30
 * dump; the messages of Firecracker, cloud-hypervisor, crosvm, kvmtool, dosemu2 and km;
 * dmesg KVM lines (unhandled MSRs, dump_vmcs' guest state, arm64 "Data abort outside
 * memslots ..."), kvm_exit trace lines. It may be wrapped by a mail client or a terminal,
 * quoted ("> "), HTML-escaped, prefixed by timestamps or prompts, cut anywhere, and hold the
 * output of several vCPUs interleaved.
 *
 * xg_triage_parse() splits it into vCPU blocks of raw facts; xg_triage_derive() works out
 * the named facts of one block (exit and suberror names, the hardware exit reason and its
 * qualification bits, the CPU mode, the instruction at the marker in that mode, the guest
 * physical region, anomalies, a verdict); the render functions print them for a person or
 * as JSON. Everything is bounded (lines, blocks, bytes): any input gives blocks or a reason,
 * never a crash.
 */
#ifndef XG_TRIAGE_H
#define XG_TRIAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exitgate.h"

#define XG_TRIAGE_MAX_BLOCKS 64
#define XG_TRIAGE_MAX_DATA   16
#define XG_TRIAGE_MAX_CODE   96
#define XG_TRIAGE_MAX_LINE   2048 /* longer lines are read up to this length */
#define XG_TRIAGE_MAX_ITEMS  16	  /* MSRs, trace exits kept per block */

/* Register slots a dump can fill. x86 32-bit names (EAX...) land in the same slots. */
enum xg_tri_reg {
	XG_TR_RAX,
	XG_TR_RCX,
	XG_TR_RDX,
	XG_TR_RBX,
	XG_TR_RSP,
	XG_TR_RBP,
	XG_TR_RSI,
	XG_TR_RDI,
	XG_TR_R8,
	XG_TR_R9,
	XG_TR_R10,
	XG_TR_R11,
	XG_TR_R12,
	XG_TR_R13,
	XG_TR_R14,
	XG_TR_R15,
	XG_TR_RIP,
	XG_TR_RFL,
	XG_TR_CR0,
	XG_TR_CR2,
	XG_TR_CR3,
	XG_TR_CR4,
	XG_TR_CR8,
	XG_TR_EFER,
	XG_TR_CPL,
	XG_TR_SMM,
	XG_TR_HLT,
	XG_TR_GDTB,
	XG_TR_GDTL,
	XG_TR_IDTB,
	XG_TR_IDTL,
	/* arm64: X0..X30 share slots 0..30 of this second range */
	XG_TR_PC,
	XG_TR_SP,
	XG_TR_PSTATE,
	XG_TR_X0,
	XG_TR_COUNT = XG_TR_X0 + 31
};

enum xg_tri_seg {
	XG_TS_ES,
	XG_TS_CS,
	XG_TS_SS,
	XG_TS_DS,
	XG_TS_FS,
	XG_TS_GS,
	XG_TS_LDT,
	XG_TS_TR,
	XG_TS_COUNT
};

/* A segment register; flags in QEMU's layout (descriptor bits 8..23: type 11:8, S 12,
 * DPL 14:13, P 15, AVL 20, L 21, D/B 22, G 23; SDM Vol. 3A 3.4.5). */
struct xg_tri_segreg {
	uint8_t have, have_flags;
	uint16_t sel;
	uint64_t base;
	uint32_t limit, flags;
};

enum xg_tri_exit {
	XG_TX_NONE = 0,	   /* a register dump, no exit named */
	XG_TX_INTERNAL,	   /* KVM_EXIT_INTERNAL_ERROR */
	XG_TX_FAIL_ENTRY,  /* KVM_EXIT_FAIL_ENTRY */
	XG_TX_RUN_FAILED,  /* KVM_RUN returned an error (errno) */
	XG_TX_SHUTDOWN,	   /* KVM_EXIT_SHUTDOWN (triple fault on x86) */
	XG_TX_EXIT_REASON, /* a VMM named a KVM exit number it did not handle */
	XG_TX_MSR,	   /* dmesg: unhandled rdmsr/wrmsr */
	XG_TX_NISV,	   /* dmesg: arm64 data abort without syndrome */
	XG_TX_TRACE,	   /* kvm_exit trace events */
	XG_TX_SET_STATE,   /* the VMM could not load the vCPU's registers into KVM */
	XG_TX_GUEST_STATE, /* dmesg: dump_vmcs' guest state after a failed entry */
};

struct xg_tri_block {
	int first_line, last_line; /* 1-based lines of the input */
	const char *vmm;	   /* "qemu", "qemu-kvm", "firecracker", ... or NULL */
	int arch;		   /* -1 unknown, 0 x86_64, 1 arm64 */
	enum xg_tri_exit exit;
	int suberror; /* -1 if none */
	int ndata;    /* extra data words seen (contiguous from 0) */
	uint64_t data[XG_TRIAGE_MAX_DATA];
	uint8_t data_bare; /* printed without 0x and zero padding (QEMU < 2.x) */
	uint8_t have_hw_error, have_cpu, emulation_failure_line;
	uint64_t hw_error;    /* fail_entry.hardware_entry_failure_reason */
	int cpu;	      /* the host CPU (fail_entry.cpu) or the vCPU index named */
	int vcpu;	      /* vCPU index the VMM named, -1 if none */
	uint64_t exit_number; /* XG_TX_EXIT_REASON: the KVM exit number */
	char err[64];	      /* XG_TX_RUN_FAILED / XG_TX_SET_STATE: the errno text */
	char message[160];    /* the line that opened the block, trimmed */
	/* dmesg MSR lines and trace exits */
	int nitems;
	struct {
		uint64_t a, b, rip;
		char name[32];
		uint8_t write;
	} items[XG_TRIAGE_MAX_ITEMS];
	/* register dump */
	int have_regs, regs_wide; /* regs_wide: 64-bit names or 16-digit values */
	uint64_t reg[XG_TR_COUNT];
	uint8_t have[XG_TR_COUNT];
	struct xg_tri_segreg seg[XG_TS_COUNT];
	/* QEMU segment lines of present segments with and without the "DPL=.. CS32 [..]" words:
	 * QEMU prints those only with CR0.PE=1, so they tell the mode when CR0 was cut off */
	int seg_words, seg_bare;
	uint64_t cr0_shadow_mask; /* dmesg dump_vmcs: CR0 bits the guest sees from the shadow */
	/* code bytes around RIP: code_known[i] is 0 for "??" */
	int ncode, marker; /* marker: index of the byte at RIP, -1 if none */
	uint8_t code[XG_TRIAGE_MAX_CODE], code_known[XG_TRIAGE_MAX_CODE];
	char vendor_hint[48];  /* words in the text that name the host CPU's vendor */
	int vendor_hint_value; /* 0 none, 1 intel, 2 amd */
	int duplicates;	       /* the same header printed again with no dump of its own */
	int ambiguous_dump;    /* the dump followed several headers: which vCPU it belongs to is a
				  guess */
};

struct xg_triage {
	int nblocks;
	int truncated; /* more blocks than XG_TRIAGE_MAX_BLOCKS: the rest were not read */
	int lines;
	struct xg_tri_block b[XG_TRIAGE_MAX_BLOCKS];
	char why[200]; /* when nblocks == 0: what the input looked like */
};

/* Parse text (any bytes; NUL and non-UTF-8 are read as they come). Never fails. */
void xg_triage_parse(const char *text, size_t len, struct xg_triage *t);

/* Derived facts of one block: what render prints. Strings point into the struct or static
 * tables. */
#define XG_TRI_MAX_NOTES 12
struct xg_tri_facts {
	const char *arch, *vendor, *vendor_why, *exit, *suberror_name;
	const char *hw_exit_name, *hw_kind; /* "vmx" / "svm" */
	int have_hw_exit;
	uint64_t hw_exit; /* full VMX exit reason / SVM exit code */
	int have_qual, have_info2, have_vect, have_intr, have_err_code, have_gpa;
	uint64_t qual, info2, vect, intr, err_code, gpa;
	const char *gpa_source;
	char qual_text[256], vect_text[160], intr_text[160];
	const char *gpa_region;
	char gpa_region_buf[160];
	/* CPU */
	const char *cpu_mode; /* real, vm86, protected16, protected32, compat16, compat32, long64,
				 arm64 ELx */
	char cpu_mode_text[96];
	int code_bits;	      /* 16, 32, 64, 0 unknown */
	int paging, smm, cpl; /* -1 unknown */
	int have_rip, have_linear;
	uint64_t rip, linear;
	/* instruction */
	int insn_len;
	char insn_bytes[64], insn_text[96], insn_source[48];
	char ctx_before[3][96], ctx_after[3][96];
	int nbefore, nafter;
	char code_looks[288];
	char emu[160];	     /* what exitgate's x86 emulator says of the instruction */
	int emu_supported;   /* 1 yes, 0 no, -1 not asked */
	int fetch_from_mmio; /* the instruction was fetched from device memory */
	/* conclusions */
	int nanomalies;
	char anomalies[XG_TRI_MAX_NOTES][200];
	int nnotes;
	char notes[XG_TRI_MAX_NOTES][200];
	char verdict[600];
	char policy[400]; /* what exitgate's default policy would have done */
};

void xg_triage_derive(const struct xg_triage *t, int i, struct xg_tri_facts *f);

/* Who and why of one of exitgate's own dumps (core/dump), read by xg_triage_from_dump. */
struct xg_tri_dump_info {
	char guest[64], trigger[32], handler[96], verdict[32], time[32];
	char note[200], error[200];
	char previous[512]; /* the dump before this one of the same vCPU in the run, or "" */
	int vcpu;
	long long seq;
	/* what the dump has beyond the triage block, as text lines for a person ("  label
	 * value\n"): the previous dump, GDTR/IDTR/TR/LDTR, pending and injected events, the
	 * memory operand with the region it hits, the exit's GPA, the vector state, the
	 * stack */
	char details[16384];
};

/* One of exitgate's own dumps (the JSON core/dump writes) as one block: the exit from its raw
 * kvm_run bytes, the registers, the code around RIP. -1 with a message if it is not a dump. */
int xg_triage_from_dump(const char *json, size_t len, struct xg_triage *t,
			struct xg_tri_dump_info *info, struct xg_error *err);

/* One JSON array, one object per block; or text for a person. `name` labels the input. */
void xg_triage_print_json(const struct xg_triage *t, FILE *out);
void xg_triage_print_text(const struct xg_triage *t, const char *name, FILE *out);

#endif
