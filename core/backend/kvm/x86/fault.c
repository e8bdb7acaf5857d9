/*
 * fault.c - an exception injected after an IO, MMIO or MSR exit reaches the guest as the CPU
 * delivers a fault: the saved RIP is the instruction's, and none of its effects is done
 * (SDM Vol. 3A 6.5 "Faults": the return address points to the faulting instruction and the
 * state is as before it; for a REP string instruction, Vol. 1 7.3.9.1 and Vol. 2 "REP": RCX,
 * RSI and RDI count the iterations completed before the fault).
 *
 * KVM does not leave the vCPU there. api.rst 5 "KVM_EXIT_IO", "KVM_EXIT_MMIO": the access is
 * "completed by the next KVM_RUN"; and KVM's instruction emulator (which runs every CPL-0
 * instruction on kvm_pvm) finishes a store before it exits. Measured on kvm_pvm, kernel 6.18
 * (tests/kvm/t_kvm_exitstate.c rechecks each line on every machine):
 *
 *   exit                      RIP at the exit   registers at the exit   the next KVM_RUN
 *   IO in, ins, rep ins       the instruction   untouched               writes AL/AX/EAX, or
 *     (rep ins: one exit, io.count = RCX items)                         all count items at
 *                                                                       ES:RDI, RCX/RDI, RIP
 *   IO out, outs              past it           outs: RSI moved         nothing
 *   rep outs (an exit/item)   the instruction   RCX, RSI count the item nothing
 *   MMIO load                 the instruction   untouched               writes the
 *                                                                       destination, RIP
 *   MMIO store                past it           (none)                  nothing
 *   rep stos/movs to MMIO     the instruction   RCX, RDI (RSI) count it nothing
 *   RDMSR, WRMSR              the instruction   untouched               EDX:EAX and RIP; or
 *                                                                       #GP at the
 *                                                                       instruction when
 *                                                                       msr.error = 1
 *
 * So before an exception is set with KVM_SET_VCPU_EVENTS (an event set while a completion is
 * pending is delivered after it: RIP past the instruction, a load's register written):
 *   - the state the fault must see is taken from the exit-time registers: as they are for
 *     loads, IN and MSRs; for stores and OUT, RIP moved back to the instruction (found by
 *     decoding backwards: the instruction that ends at RIP and whose port/address and data
 *     are the exit's), and for string instructions the item of this exit uncounted;
 *   - a pending completion is run with KVM_RUN and immediate_exit = 1 (api.rst 5 "kvm_run":
 *     it completes the access and returns EINTR without entering the guest), made harmless
 *     first where it stores to memory (ins, movs from a device: the exit's data is set to
 *     what the destination already holds), through the exits it may lead to (the next
 *     items of a REP string instruction, the rest of a page-crossing access, the store of
 *     a read-modify-write; none reaches a device);
 *   - the registers are set back, then the exception is injected.
 * An MSR #GP keeps KVM's own path (msr.error = 1), which is a fault at the rdmsr/wrmsr.
 *
 * Refused before anything changes (the inject verdict then fails, and on_error applies): a
 * store or OUT whose instruction cannot be found, an IN whose instruction cannot be read.
 * Ambiguity: backwards, the shortest instruction that matches is taken; a redundant prefix
 * that changes neither size, address nor data (REX 0x40 on `mov %bl,(%rax)`) is left out
 * of the RIP it reports.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "action/x86_walk.h"
#include "backend/kvm/kvm_int.h"
#include "xg_emu_x86.h"

#define RFLAGS_DF (1ull << 10)
#define RFLAGS_VM (1ull << 17)
#define EFER_LMA  (1ull << 10)
#define MAX_INSN  15

struct at {
	struct xg_kvm_vcpu *v;
	struct kvm_run *run;
	struct xg_vcpu_ops ops;
	struct xg_emu_x86_regs x; /* the state the fault is delivered with */
	unsigned mode;		  /* 16, 32, 64 */
	int real;
	/* a string instruction whose completion stores to guest memory (ins, or movs from a
	 * device): its data is set to what the destination holds */
	int stores;
	struct xg_emu_x86_insn str;
};

static int refuse(struct at *a, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct at *a, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->v->err.msg, sizeof(a->v->err.msg), fmt, ap);
	va_end(ap);
	return rc;
}

static uint64_t mask_of(unsigned bytes)
{
	return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1;
}

static uint64_t seg_base(const struct at *a, unsigned seg)
{
	/* 64-bit mode: only FS and GS have a base (SDM Vol. 3A 3.4.4) */
	if (a->mode == 64 && seg != XG_EMU_X86_FS && seg != XG_EMU_X86_GS)
		return 0;
	return a->x.seg[seg].base;
}

static uint64_t linear(const struct at *a, unsigned seg, uint64_t off, unsigned addrsize)
{
	uint64_t la = seg_base(a, seg) + (off & mask_of(addrsize));

	return a->mode == 64 ? la : la & 0xffffffffull;
}

/* Decode the instruction at rip; with want != 0 it must be exactly `want` bytes long. */
static int decode_at(struct at *a, uint64_t rip, size_t want, struct xg_emu_x86_insn *in)
{
	uint8_t b[MAX_INSN];
	struct xg_emu_x86_exception exc;
	size_t n = want ? want : sizeof(b);

	n = xg_x86_read_virt(&a->ops, a->v, &a->x, linear(a, XG_EMU_X86_CS, rip, a->mode / 8), b,
			     n);
	if (!n || (want && n != want))
		return -1;
	if (xg_emu_x86_decode(b, n, a->mode, a->real, in, &exc, NULL) != XG_EMU_X86_OK)
		return -1;
	return want && in->len != want ? -1 : 0;
}

static int to_gpa(struct at *a, uint64_t la, unsigned kind, uint64_t *gpa)
{
	uint32_t pf;

	return xg_x86_walk(&a->ops, a->v, &a->x, la, kind, 0, gpa, &pf) ? -1 : 0;
}

/* One-byte-opcode string instructions by name (SDM Vol. 2 Table A-2). */
static int is_op(const struct xg_emu_x86_insn *in, uint8_t op)
{
	return in->enc == XG_EMU_X86_ENC_LEGACY && in->map == XG_EMU_X86_MAP_1B &&
	       (in->opcode & 0xfe) == op;
}

/* IN/OUT operand size: byte for the even opcodes, else 16 or 32 bits (no 64-bit port I/O). */
static unsigned port_size(const struct xg_emu_x86_insn *in)
{
	return (in->opcode & 1) ? (in->opsize == 2 ? 2 : 4) : 1;
}

/* The size of one item of a string instruction (ins and outs: a port access). */
static unsigned item_size(const struct xg_emu_x86_insn *in)
{
	if (is_op(in, 0x6c) || is_op(in, 0x6e))
		return port_size(in);
	return (in->opcode & 1) ? in->opsize : 1;
}

static int64_t str_delta(const struct at *a, const struct xg_emu_x86_insn *in)
{
	return (a->x.rflags & RFLAGS_DF) ? -(int64_t)item_size(in) : (int64_t)item_size(in);
}

/* reg += d in the address size, as the string instructions count (the bits above it kept). */
static void step(struct at *a, unsigned reg, int64_t d, unsigned addrsize)
{
	uint64_t m = mask_of(addrsize), r = a->x.gpr[reg];

	a->x.gpr[reg] = (r & ~m) | ((r + (uint64_t)d) & m);
}

/* Take back the iteration a string instruction counted before its exit. */
static void uncount(struct at *a, const struct xg_emu_x86_insn *in, int src, int dst)
{
	int64_t d = str_delta(a, in);

	if (src)
		step(a, XG_EMU_X86_RSI, -d, in->addrsize);
	if (dst)
		step(a, XG_EMU_X86_RDI, -d, in->addrsize);
	if (in->rep)
		step(a, XG_EMU_X86_RCX, 1, in->addrsize);
}

/* Do the `size` bytes at seg:off (guest RAM) equal data? */
static int mem_is(struct at *a, unsigned seg, uint64_t off, unsigned addrsize, const void *data,
		  unsigned size)
{
	uint8_t b[8];

	return size <= sizeof(b) &&
	       xg_x86_read_virt(&a->ops, a->v, &a->x, linear(a, seg, off, addrsize), b, size) ==
		   size &&
	       !memcmp(b, data, size);
}

static int reg_is(uint64_t reg, const void *data, unsigned size)
{
	uint64_t d = 0;

	memcpy(&d, data, size);
	return (reg & mask_of(size)) == d;
}

/* ---- OUT ---- */

static int out_point(struct at *a)
{
	const struct kvm_run *run = a->run;
	const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size, port = run->io.port;
	uint16_t dx = (uint16_t)a->x.gpr[XG_EMU_X86_RDX];
	struct xg_emu_x86_insn in;

	/* rep outs: RIP stays on it, RCX and RSI already count the item in this exit */
	if (!decode_at(a, a->x.rip, 0, &in) && is_op(&in, 0x6e) && in.rep &&
	    item_size(&in) == size && dx == port &&
	    mem_is(a, in.seg, a->x.gpr[XG_EMU_X86_RSI] - (uint64_t)str_delta(a, &in), in.addrsize,
		   data, size)) {
		uncount(a, &in, 1, 0);
		return 0;
	}
	/* out, outs: RIP is past it; the shortest instruction that ends there and sent this */
	for (size_t k = 1; k <= MAX_INSN && k <= a->x.rip; k++) {
		if (decode_at(a, a->x.rip - k, k, &in))
			continue;
		if ((is_op(&in, 0xe6) && (in.imm & 0xff) == port) ||
		    (is_op(&in, 0xee) && dx == port)) {
			if (port_size(&in) != size || !reg_is(a->x.gpr[XG_EMU_X86_RAX], data, size))
				continue;
			a->x.rip -= k;
			return 0;
		}
		if (is_op(&in, 0x6e) && !in.rep && item_size(&in) == size && dx == port &&
		    mem_is(a, in.seg, a->x.gpr[XG_EMU_X86_RSI] - (uint64_t)str_delta(a, &in),
			   in.addrsize, data, size)) {
			a->x.rip -= k;
			uncount(a, &in, 1, 0);
			return 0;
		}
	}
	return refuse(a, -ENOTSUP,
		      "no OUT to port 0x%x ends at rip 0x%llx: cannot deliver the exception at "
		      "the instruction",
		      port, (unsigned long long)a->x.rip);
}

/* ---- IN ---- */

static int in_point(struct at *a)
{
	struct xg_emu_x86_insn in;

	if (decode_at(a, a->x.rip, 0, &in))
		return refuse(a, -ENOTSUP, "cannot read the IN instruction at rip 0x%llx",
			      (unsigned long long)a->x.rip);
	if (is_op(&in, 0x6c)) {
		if (item_size(&in) != a->run->io.size)
			return refuse(a, -ENOTSUP, "the ins at rip 0x%llx does not match the exit",
				      (unsigned long long)a->x.rip);
		a->stores = 1;
		a->str = in;
	}
	return 0; /* in: the register is set back */
}

/* ---- MMIO ---- */

static int is_string_read(const struct xg_emu_x86_insn *in)
{
	return is_op(in, 0xa4) || is_op(in, 0xa6) || is_op(in, 0xac) || is_op(in, 0xae);
}

/* Does an access of `len` bytes from la reach gpa (the first fragment, or the second of a
 * page-crossing one)? */
static int reaches(struct at *a, uint64_t la, unsigned len, uint64_t gpa)
{
	uint64_t g, next = (la | 0xfff) + 1;

	if (!to_gpa(a, la, XG_EMU_X86_WRITE, &g) && g == gpa)
		return 1;
	return next < la + len && !to_gpa(a, next, XG_EMU_X86_WRITE, &g) && g == gpa;
}

/* The operand size of a store in the one-byte opcode map, where the low opcode bit picks
 * byte or full size (SDM Vol. 2 B.1.4.3, the "w" bit; mov from a segment register, 8c,
 * stores 16 bits); 0 where it is not known that way. */
static unsigned store_size(const struct xg_emu_x86_insn *in)
{
	if (in->enc != XG_EMU_X86_ENC_LEGACY || in->map != XG_EMU_X86_MAP_1B)
		return 0;
	return in->opcode == 0x8c ? 2 : item_size(in);
}

/* The value a plain MOV store writes, when it is one: 1 and *val, else 0. */
static int mov_value(const struct at *a, const struct xg_emu_x86_insn *in, uint64_t *val)
{
	if (is_op(in, 0x88)) {
		unsigned r = in->reg;
		if (in->opcode == 0x88 && !in->rex && r >= 4 && r < 8) /* AH CH DH BH */
			*val = a->x.gpr[r - 4] >> 8;
		else
			*val = a->x.gpr[r];
	} else if (is_op(in, 0xc6) && in->reg == 0) {
		*val = in->imm;
	} else if (is_op(in, 0xa2)) {
		*val = a->x.gpr[XG_EMU_X86_RAX];
	} else {
		return 0;
	}
	return 1;
}

static int store_point(struct at *a)
{
	const struct kvm_run *run = a->run;
	uint64_t gpa = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	struct xg_emu_x86_insn in;
	uint64_t val;

	/* rep stos/movs: RIP stays on it, RCX and RDI (RSI) already count this item */
	if (!decode_at(a, a->x.rip, 0, &in) && in.rep && (is_op(&in, 0xaa) || is_op(&in, 0xa4)) &&
	    item_size(&in) == len &&
	    reaches(a,
		    linear(a, XG_EMU_X86_ES, a->x.gpr[XG_EMU_X86_RDI] - (uint64_t)str_delta(a, &in),
			   in.addrsize),
		    len, gpa)) {
		uncount(a, &in, is_op(&in, 0xa4), 1);
		return 0;
	}
	/* any other store: RIP is past it; the shortest instruction that ends there and
	 * writes to this address (and, for a MOV, this value) */
	for (size_t k = 1; k <= MAX_INSN && k <= a->x.rip; k++) {
		if (decode_at(a, a->x.rip - k, k, &in))
			continue;
		if (!in.rep && (is_op(&in, 0xaa) || is_op(&in, 0xa4))) {
			uint64_t rdi = a->x.gpr[XG_EMU_X86_RDI] - (uint64_t)str_delta(a, &in);
			if (item_size(&in) != len ||
			    !reaches(a, linear(a, XG_EMU_X86_ES, rdi, in.addrsize), len, gpa))
				continue;
			a->x.rip -= k;
			uncount(a, &in, is_op(&in, 0xa4), 1);
			return 0;
		}
		if (!in.has_mem || in.vsib || is_string_read(&in))
			continue;
		uint64_t off, la;
		unsigned size;

		off = (uint64_t)in.disp + (in.rip_rel ? a->x.rip : 0) +
		      (in.base != XG_EMU_X86_NOREG ? a->x.gpr[in.base] : 0) +
		      (in.index != XG_EMU_X86_NOREG ? a->x.gpr[in.index] * in.scale : 0);
		la = linear(a, in.seg, off, in.addrsize);
		size = store_size(&in);
		/* the exit carries the whole store, or its first part up to a page end */
		if (size && size != len && !(size > len && (la & 0xfff) + len == 0x1000))
			continue;
		if (!reaches(a, la, size ? size : len, gpa))
			continue;
		if (mov_value(a, &in, &val) && !reg_is(val, run->mmio.data, len))
			continue;
		a->x.rip -= k;
		return 0;
	}
	return refuse(a, -ENOTSUP,
		      "no store to 0x%llx ends at rip 0x%llx: cannot deliver the exception at "
		      "the instruction",
		      (unsigned long long)gpa, (unsigned long long)a->x.rip);
}

static int load_point(struct at *a)
{
	struct xg_emu_x86_insn in;

	if (decode_at(a, a->x.rip, 0, &in))
		return refuse(a, -ENOTSUP, "cannot read the instruction at rip 0x%llx",
			      (unsigned long long)a->x.rip);
	if (is_op(&in, 0xa4)) { /* movs from the device to ES:RDI */
		a->stores = 1;
		a->str = in;
	}
	return 0; /* the destination register is set back (lods, cmps, scas: flags too) */
}

/* ---- completion ---- */

/*
 * Before a completion runs: make what it stores change nothing. A string instruction's items
 * go to ES:RDI (the registers of this exit: a REP string instruction counts on between its
 * exits) and get the bytes already there; where that is not RAM, the store exits again and
 * is dropped. On the exits a completion leads to (the rest of a page-crossing access, the
 * store of a read-modify-write, the next items of a REP string instruction), stores reach no
 * device and reads see a floating bus.
 */
static int neutralize(struct at *a, int first)
{
	struct kvm_run *run = a->run;
	struct xg_emu_x86_regs cur;
	uint8_t *data;
	unsigned size, count;

	if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write)
		return 0;
	if (run->exit_reason == KVM_EXIT_MMIO && !a->stores) {
		if (!first)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		return 0;
	}
	if (run->exit_reason == KVM_EXIT_MMIO) {
		data = run->mmio.data;
		size = run->mmio.len > 8 ? 8 : run->mmio.len;
		count = 1;
	} else if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN &&
		   a->stores) {
		data = (uint8_t *)run + run->io.data_offset;
		size = run->io.size;
		count = run->io.count;
		if (run->io.data_offset + (uint64_t)size * count > a->v->run_size || size > 8)
			return refuse(a, -EIO, "the IO exit's data lies outside kvm_run");
	} else if (first) {
		return 0;
	} else {
		return refuse(a, -EIO,
			      "completing the access led to exit %u, not back to user "
			      "space",
			      run->exit_reason);
	}
	if (first)
		cur = a->x;
	else if (a->ops.get_x86_regs(a->v, &cur))
		return -EIO;
	for (unsigned i = 0; i < count; i++) {
		int64_t d = (cur.rflags & RFLAGS_DF) ? -(int64_t)size : (int64_t)size;
		uint64_t la = linear(a, XG_EMU_X86_ES, cur.gpr[XG_EMU_X86_RDI] + (uint64_t)(d * i),
				     a->str.addrsize);
		uint8_t *item = data + (size_t)i * size;

		if (xg_x86_read_virt(&a->ops, a->v, &a->x, la, item, size) != size)
			memset(item, 0xff, size);
	}
	return 0;
}

/* KVM's emulator goes back to the guest at least every 1024 iterations of a REP string
 * instruction (arch/x86/kvm/emulate.c, x86_emulate_insn): a completion ends within that. */
#define MAX_COMPLETIONS 1100

/* Run the pending completion without entering the guest (KVM_RUN with immediate_exit = 1
 * returns EINTR once nothing is pending, api.rst 5 "kvm_run"). */
static int complete(struct at *a)
{
	struct kvm_run *run = a->run;
	uint8_t prev = run->immediate_exit; /* a kick from the VMM's other threads stays set */
	uint32_t reason = run->exit_reason;
	char saved[sizeof(run->padding)];
	int r = -EAGAIN;

	memcpy(saved, run->padding, sizeof(saved));

	for (int i = 0; i < MAX_COMPLETIONS && r == -EAGAIN; i++) {
		if ((r = neutralize(a, i == 0)))
			break;
		run->immediate_exit = 1;
		r = xg_kvm_vcpu_run(a->v);
		if (r == -EINTR)
			r = 0;
		else if (r)
			refuse(a, r, "KVM_RUN with immediate_exit: %s", strerror(-r));
		else
			r = -EAGAIN;
	}
	run->immediate_exit = prev;
	/* kvm_run describes the exit in hand until the next KVM_RUN (the VMM's loop reads it
	 * after the verdict), not the EINTR of the completion */
	run->exit_reason = reason;
	memcpy(run->padding, saved, sizeof(saved));
	if (r == -EAGAIN)
		return refuse(a, -EIO, "completing the access did not end");
	return r;
}

int xg_kvm_fault_prepare(struct xg_kvm_vcpu *v, unsigned vector, int *via_msr_error)
{
	struct at a = {.v = v, .run = v->run};
	const struct xg_emu_x86_segment *cs;
	int rc;

	*via_msr_error = 0;
	if (v->fault_ready)
		return 0; /* done for this exit already (an on_error inject after an inject) */
	switch (v->run->exit_reason) {
	case KVM_EXIT_IO:
	case KVM_EXIT_MMIO:
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		break;
	default:
		return 0; /* nothing pending: RIP is on the instruction that exited */
	}
	xg_kvm_vcpu_ops(v, &a.ops);
	if (a.ops.get_x86_regs(v, &a.x))
		return -EIO;
	cs = &a.x.seg[XG_EMU_X86_CS];
	a.real = !(a.x.cr0 & 1) || (a.x.rflags & RFLAGS_VM);
	a.mode = (cs->l && (a.x.efer & EFER_LMA)) ? 64 : (cs->db && !a.real) ? 32 : 16;

	switch (v->run->exit_reason) {
	case KVM_EXIT_IO:
		if (v->run->io.direction == KVM_EXIT_IO_IN) {
			rc = in_point(&a);
		} else {
			rc = out_point(&a);
		}
		break;
	case KVM_EXIT_MMIO:
		if (v->run->mmio.is_write) {
			rc = store_point(&a);
		} else {
			rc = load_point(&a);
		}
		break;
	default: /* RDMSR, WRMSR */
		if (vector == 13) {
			/* KVM's own answer: #GP(0) at the instruction (api.rst 5
			 * KVM_EXIT_X86_RDMSR, "error") */
			*via_msr_error = 1;
			return 0;
		}
		v->run->msr.error = 0; /* completed, then set back */
		rc = 0;
		break;
	}
	if (rc)
		return rc;
	/* After a store or OUT nothing is pending: KVM_RUN returns EINTR at once. */
	if ((rc = complete(&a)))
		return rc;
	if (a.ops.set_x86_regs(v, &a.x))
		return -EIO;
	v->fault_ready = 1;
	return 0;
}
