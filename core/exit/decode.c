/*
 * decode.c - struct kvm_run bytes -> struct xg_exit.
 *
 * Semantics from Documentation/virt/kvm/api.rst section 5 ("The kvm_run structure") and,
 * for the internal-error data[] layouts, arch/x86/kvm/x86.c
 * (prepare_emulation_failure_exit, kvm_prepare_event_vectoring_exit,
 * kvm_prepare_unexpected_reason_exit) and arch/x86/kvm/vmx/vmx.c (SIMUL_EX).
 *
 * Every count and size read from the buffer is guest-influenced: each is bounded before
 * use, and what was out of bounds or undefined is said in x->malformed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xg_hot.h"
#include "exit/fields.h"
#include "exit/kvm_compat.h"
#include "exit/decode.h"
#include "exit/names.h"

static void report(struct xg_exit *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct xg_exit *x, const char *fmt, ...)
{
	size_t used = strlen(x->malformed);
	va_list ap;

	if (used + 3 >= sizeof(x->malformed))
		return;
	if (used) {
		memcpy(x->malformed + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(x->malformed + used, sizeof(x->malformed) - used, fmt, ap);
	va_end(ap);
}

static void event_info(struct xg_event_info *e, uint64_t raw)
{
	memset(e, 0, sizeof(*e));
	e->raw = (uint32_t)raw;
	e->valid = (raw >> 31) & 1;
	e->vector = raw & 0xff;
	e->type = (raw >> 8) & 7;
	e->error_code_valid = (raw >> 11) & 1;
	if (!e->valid)
		return; /* the other bits mean nothing then: name nothing */
	e->type_name = xg_names_event_type(e->type);
	/* Only exceptions carry an exception vector; interrupts use all 256 vectors. */
	e->vector_name = (e->type == 3 || e->type == 5 || e->type == 6)
				 ? xg_names_x86_vector(e->vector)
				 : (e->type == 2 ? "NMI" : NULL);
}

/* Name of an x86 hardware exit reason as VMX or SVM report it; NULL if it is not one. */
static const char *hw_reason_name(enum xg_hw hw, uint64_t reason)
{
	if (hw == XG_HW_VMX) {
		/* SDM Vol. 3C 25.9.1: bits 15:0 basic reason; 27 enclave, 28 pending MTF, 29 from
		 * VMX root, 31 VM-entry failure; the rest reserved (0). */
		if (reason & ~(uint64_t)0xb800ffffULL)
			return NULL;
		return xg_names_vmx_exit(reason & 0xffff);
	}
	if (hw == XG_HW_SVM)
		return xg_names_svm_exit(reason);
	return NULL;
}

static void hw_info(struct xg_exit *x, struct xg_hw_info *h, const uint64_t *w)
{
	h->exit_reason = w[0];
	h->exit_reason_name = hw_reason_name(x->hw, w[0]);
	h->info1 = w[1];
	h->info2 = w[2];
	h->intr_info = w[3];
	h->error_code = w[4];
	event_info(&h->intr, w[3]);
}

static void esr_dabt(struct xg_esr_dabt *d, uint64_t iss)
{
	/* ARM ARM DDI 0487, D24.2.45, ISS encoding for an exception from a Data Abort. */
	d->raw = iss;
	d->dfsc = iss & 0x3f;
	d->wnr = (iss >> 6) & 1;
	d->s1ptw = (iss >> 7) & 1;
	d->cm = (iss >> 8) & 1;
	d->ea = (iss >> 9) & 1;
	d->fnv = (iss >> 10) & 1;
	d->set = (iss >> 11) & 3;
	d->vncr = (iss >> 13) & 1;
	d->ar = (iss >> 14) & 1;
	d->sf = (iss >> 15) & 1;
	d->srt = (iss >> 16) & 0x1f;
	d->sse = (iss >> 21) & 1;
	d->sas = (iss >> 22) & 3;
	d->isv = (iss >> 24) & 1;
	d->dfsc_name = xg_names_arm_dfsc(d->dfsc);
}

static uint32_t bounded_ndata(struct xg_exit *x, uint32_t ndata)
{
	if (ndata > 16) {
		report(x, "ndata %u > 16", ndata);
		return 16;
	}
	return ndata;
}

static void keep_extra(struct xg_exit_internal *in, uint32_t from)
{
	in->extra_count = from < in->ndata_used ? in->ndata_used - from : 0;
	memcpy(in->extra, in->data + from, in->extra_count * sizeof(uint64_t));
}

/* KVM_INTERNAL_ERROR_EMULATION: data[0] = flags, then each flag's payload in ascending flag
 * order (bit 0, INSTRUCTION_BYTES: insn_size + 15 bytes = 2 words), then the five exit
 * information words, then up to four more words. */
static void decode_emulation(struct xg_exit *x, const union xg_run_union *u)
{
	struct xg_exit_internal *in = &x->u.internal;
	uint32_t pos = 1;

	if (in->ndata_used == 0)
		return; /* kernels before 5.16 (or without INTERNAL_ERROR_DATA) say nothing more */
	in->flags = in->data[0];
	in->flags_unknown = in->flags & ~(uint64_t)KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	if (in->flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) {
		if (in->ndata_used < 3) {
			report(x, "flags say instruction bytes follow but ndata %u < 3", in->ndata);
			keep_extra(in, 1);
			return;
		}
		in->insn_size = u->emulation_failure.insn_size;
		if (in->insn_size > 15) {
			report(x, "insn_size %u > 15", in->insn_size);
			in->insn_size = 15;
		}
		memcpy(in->insn, u->emulation_failure.insn_bytes, in->insn_size);
		in->has_insn = 1;
		pos = 3;
	}
	if (in->flags_unknown) {
		/* A later flag's payload sits after bit 0's and its size is unknown here: the
		 * exit-information words cannot be placed. Keep the words, say so. */
		report(x, "flags %#llx has unknown bits %#llx: the words after them are kept undecoded",
		       (unsigned long long)in->flags, (unsigned long long)in->flags_unknown);
		keep_extra(in, pos);
		return;
	}
	if (in->ndata_used >= pos + 5) {
		hw_info(x, &in->hwi, in->data + pos);
		in->has_hw = 1;
		pos += 5;
	} else if (in->ndata_used > pos) {
		report(x, "ndata %u too short for the 5 exit-information words", in->ndata);
	}
	keep_extra(in, pos);
}

static void decode_internal(struct xg_exit *x, const union xg_run_union *u)
{
	struct xg_exit_internal *in = &x->u.internal;
	const uint64_t *d = in->data;
	uint32_t n;

	in->suberror = u->internal.suberror;
	in->suberror_name = xg_names_internal_suberror(in->suberror);
	if (!in->suberror_name)
		in->suberror_name = "unknown";
	in->ndata = u->internal.ndata;
	in->ndata_used = n = bounded_ndata(x, in->ndata);
	memcpy(in->data, u->internal.data, n * sizeof(uint64_t));

	switch (in->suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		x->kind = "emulation_failure";
		x->fields = xg_fields_for(XG_SHAPE_EMULATION, x->arch);
		decode_emulation(x, u);
		return;
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		/* vmx.c handle_exception_nmi: IDT-vectoring info, exit interruption info, error
		 * code, last vmentry cpu. */
		if ((in->has_vectoring = n > 0))
			event_info(&in->vectoring, d[0]);
		if ((in->has_intr = n > 1))
			event_info(&in->intr, d[1]);
		if ((in->has_error_code = n > 2))
			in->error_code = d[2];
		if ((in->has_cpu = n > 3))
			in->cpu = d[3];
		keep_extra(in, n < 4 ? n : 4);
		break;
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		/* info2 (IDT-vectoring), exit reason, info1 (qualification), [gpa], cpu: the gpa
		 * word is always there since 6.9, only for EPT misconfig before. */
		if (n < 3) {
			report(x, "delivery_ev with ndata %u < 3", in->ndata);
			keep_extra(in, 0);
			break;
		}
		in->has_vectoring = 1;
		event_info(&in->vectoring, d[0]);
		in->has_hw = 1;
		in->hwi.exit_reason = d[1];
		in->hwi.exit_reason_name = hw_reason_name(x->hw, d[1]);
		in->hwi.info1 = d[2];
		in->has_qual = 1;
		if (n >= 5) {
			in->has_gpa = 1;
			in->gpa = d[3];
			in->has_cpu = 1;
			in->cpu = d[4];
			keep_extra(in, 5);
		} else if (n == 4) {
			in->has_cpu = 1;
			in->cpu = d[3];
		}
		break;
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		if (n > 0) {
			in->has_hw = 1;
			in->hwi.exit_reason = d[0];
			in->hwi.exit_reason_name = hw_reason_name(x->hw, d[0]);
		}
		if ((in->has_cpu = n > 1))
			in->cpu = d[1];
		keep_extra(in, n < 2 ? n : 2);
		break;
	default:
		report(x, "suberror %u is not one this engine knows; data words kept", in->suberror);
		keep_extra(in, 0);
		break;
	}
	x->fields = xg_fields_for(XG_SHAPE_INTERNAL, x->arch);
}

static uint64_t le_bytes(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static void decode_io(struct xg_exit *x, const union xg_run_union *u, const uint8_t *run,
		      size_t run_size)
{
	struct xg_exit_io *io = &x->u.io;
	uint64_t len;

	io->direction = u->io.direction;
	io->size = u->io.size;
	io->port = u->io.port;
	io->count = u->io.count;
	io->data_offset = u->io.data_offset;
	io->dir = io->direction == 0 ? "in" : io->direction == 1 ? "out" : NULL;
	if (io->direction > 1)
		report(x, "io direction %u is neither in (0) nor out (1)", io->direction);
	if (io->size != 1 && io->size != 2 && io->size != 4) {
		report(x, "io size %u is not 1, 2 or 4", io->size);
		return;
	}
	/* size <= 4 and count < 2^32: no overflow in 64 bits. */
	len = (uint64_t)io->size * io->count;
	if (io->data_offset > run_size || len > run_size - io->data_offset) {
		report(x, "io data (%llu bytes at offset %llu) lies outside the %zu-byte kvm_run",
		       (unsigned long long)len, (unsigned long long)io->data_offset, run_size);
		return;
	}
	io->data = run + io->data_offset;
	io->data_len = (uint32_t)len;
}

static void decode_flags(struct xg_exit *x, const char *what, uint64_t flags, uint64_t known)
{
	if (flags & ~known)
		report(x, "%s %#llx has unknown bits %#llx", what, (unsigned long long)flags,
		       (unsigned long long)(flags & ~known));
}

static void decode_hypercall(struct xg_exit *x, const union xg_run_union *u)
{
	struct xg_exit_hypercall *h = &x->u.hypercall;

	h->nr = u->hypercall.nr;
	memcpy(h->args, u->hypercall.args, sizeof(h->args));
	h->ret = u->hypercall.ret;
	h->flags = u->hypercall.flags;
	if (x->arch != XG_ARCH_X86_64)
		return;
	h->nr_name = xg_names_hypercall(h->nr);
	h->longmode = h->flags & 1; /* KVM_EXIT_HYPERCALL_LONG_MODE */
	decode_flags(x, "hypercall flags", h->flags, 1);
	if (h->nr == 12) {
		/* KVM_HC_MAP_GPA_RANGE (Documentation/virt/kvm/x86/hypercalls.rst): a0 gpa,
		 * a1 number of pages, a2 attributes (page size in bits 3:0, bit 4 encrypted). */
		static const char *const sizes[] = {"4k", "2m", "1g"};
		h->is_map_gpa_range = 1;
		h->map_gpa = h->args[0];
		h->map_npages = h->args[1];
		h->map_attrs = h->args[2];
		h->map_page_size = (h->map_attrs & 0xf) < 3 ? sizes[h->map_attrs & 0xf] : NULL;
		h->map_encrypted = (h->map_attrs >> 4) & 1;
		if (!h->map_page_size)
			report(x, "map_gpa_range page size %llu is not 4k (0), 2m (1) or 1g (2)",
			       (unsigned long long)(h->map_attrs & 0xf));
		decode_flags(x, "map_gpa_range attributes", h->map_attrs, 0x1f);
	}
}

static void decode_system_event(struct xg_exit *x, const union xg_run_union *u)
{
	struct xg_exit_system_event *s = &x->u.system_event;

	s->type = u->system_event.type;
	s->type_name = xg_names_system_event(s->type);
	s->ndata = u->system_event.ndata;
	s->ndata_used = bounded_ndata(x, s->ndata);
	memcpy(s->data, u->system_event.data, s->ndata_used * sizeof(uint64_t));
	if (!s->type_name) {
		s->type_name = "unknown";
		report(x, "system event type %u is not one this engine knows", s->type);
	}
	/* arm64 PSCI: SYSTEM_OFF2 / SYSTEM_RESET2 mark data[0] bit 0 (api.rst). */
	if (x->arch == XG_ARCH_ARM64 && s->ndata_used > 0 && (s->data[0] & 1)) {
		if (s->type == 1)
			s->psci_flag = "psci_off2";
		else if (s->type == 2)
			s->psci_flag = "psci_reset2";
	}
}

static void decode_msr(struct xg_exit *x, const union xg_run_union *u)
{
	struct xg_exit_msr *m = &x->u.msr;

	m->error = u->msr.error;
	m->reason = u->msr.reason;
	m->reason_name = xg_names_msr_reason(m->reason);
	m->index = u->msr.index;
	m->index_name = xg_names_msr(m->index);
	m->data = u->msr.data;
	m->is_write = x->reason == 30;
	if (!m->reason_name) {
		m->reason_name = "unknown";
		report(x, "msr exit reason %u is not inval (1), unknown (2) or filter (4)", m->reason);
	}
}

static enum xg_shape decode_hyperv(struct xg_exit *x, const union xg_run_union *u)
{
	struct xg_exit_hyperv *h = &x->u.hyperv;

	h->type = u->hyperv.type;
	h->type_name = xg_names_hyperv_type(h->type);
	switch (h->type) {
	case 1:
		h->msr = u->hyperv.u.synic.msr;
		h->control = u->hyperv.u.synic.control;
		h->evt_page = u->hyperv.u.synic.evt_page;
		h->msg_page = u->hyperv.u.synic.msg_page;
		return XG_SHAPE_HYPERV_SYNIC;
	case 2:
		h->input = u->hyperv.u.hcall.input;
		h->result = u->hyperv.u.hcall.result;
		memcpy(h->params, u->hyperv.u.hcall.params, sizeof(h->params));
		return XG_SHAPE_HYPERV_HCALL;
	case 3:
		h->msr = u->hyperv.u.syndbg.msr;
		h->control = u->hyperv.u.syndbg.control;
		h->status = u->hyperv.u.syndbg.status;
		h->send_page = u->hyperv.u.syndbg.send_page;
		h->recv_page = u->hyperv.u.syndbg.recv_page;
		h->pending_page = u->hyperv.u.syndbg.pending_page;
		return XG_SHAPE_HYPERV_SYNDBG;
	default:
		h->type_name = "unknown";
		report(x, "hyperv exit type %u is not synic (1), hcall (2) or syndbg (3)", h->type);
		return XG_SHAPE_HYPERV;
	}
}

static void decode_fail_entry(struct xg_exit *x, const union xg_run_union *u)
{
	uint64_t r = u->fail_entry.hardware_entry_failure_reason;

	x->u.fail_entry.reason = r;
	x->u.fail_entry.cpu = u->fail_entry.cpu;
	if (x->arch == XG_ARCH_ARM64)
		x->u.fail_entry.cpu_unsupported = r & 1; /* KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED */
	else if (x->arch == XG_ARCH_X86_64)
		x->u.fail_entry.reason_name = hw_reason_name(x->hw, r);
}

static void decode_arm_sea(struct xg_exit *x, const union xg_run_union *u)
{
	struct xg_exit_arm_sea *s = &x->u.arm_sea;

	s->flags = u->arm_sea.flags;
	s->esr = u->arm_sea.esr;
	s->gva = u->arm_sea.gva;
	s->gpa = u->arm_sea.gpa;
	s->gpa_valid = s->flags & KVM_EXIT_ARM_SEA_FLAG_GPA_VALID;
	s->ec = (s->esr >> 26) & 0x3f;
	s->ec_name = xg_names_arm_ec(s->ec);
	esr_dabt(&s->iss, s->esr & 0x1ffffff);
	decode_flags(x, "arm_sea flags", s->flags, KVM_EXIT_ARM_SEA_FLAG_GPA_VALID);
}

static enum xg_hw host_hw(void);

enum xg_arch xg_arch_host(void)
{
#if defined(__aarch64__)
	return XG_ARCH_ARM64;
#elif defined(__riscv)
	return XG_ARCH_RISCV64;
#elif defined(__s390x__)
	return XG_ARCH_S390X;
#elif defined(__powerpc64__)
	return XG_ARCH_PPC64;
#elif defined(__loongarch64)
	return XG_ARCH_LOONGARCH64;
#else
	return XG_ARCH_X86_64;
#endif
}

/* CPUID traps to the hypervisor when exitgate itself runs in a VM (thousands of ns): ask
 * once. Racing first callers compute the same value. */
enum xg_hw xg_hw_host(void)
{
	static volatile int cached = -1;

	if (cached < 0)
		cached = host_hw();
	return (enum xg_hw)cached;
}

static enum xg_hw host_hw(void)
{
#if defined(__x86_64__)
	unsigned a = 0, b, c, d;
	char v[13];

	__asm__("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
	memcpy(v, &b, 4);
	memcpy(v + 4, &d, 4);
	memcpy(v + 8, &c, 4);
	v[12] = 0;
	if (!strcmp(v, "GenuineIntel"))
		return XG_HW_VMX;
	if (!strcmp(v, "AuthenticAMD") || !strcmp(v, "HygonGenuine"))
		return XG_HW_SVM;
#endif
	return XG_HW_NONE;
}

static const char *const arch_names[XG_ARCH_COUNT] = {
	"x86_64", "arm64", "riscv64", "s390x", "ppc64", "loongarch64",
};
/* Other spellings people use for the same architectures. */
static const struct {
	const char *name;
	enum xg_arch arch;
} arch_aliases[] = {{"aarch64", XG_ARCH_ARM64}, {"x86-64", XG_ARCH_X86_64}, {"amd64", XG_ARCH_X86_64}};
static const char *const hw_names[] = {"auto", "none", "vmx", "svm"};

const char *xg_arch_name(enum xg_arch arch)
{
	return (unsigned)arch < XG_ARCH_COUNT ? arch_names[arch] : "?";
}

int xg_arch_from_name(const char *name, enum xg_arch *out)
{
	for (unsigned i = 0; i < XG_ARCH_COUNT; i++)
		if (!strcmp(name, arch_names[i])) {
			*out = (enum xg_arch)i;
			return 0;
		}
	for (unsigned i = 0; i < sizeof(arch_aliases) / sizeof(arch_aliases[0]); i++)
		if (!strcmp(name, arch_aliases[i].name)) {
			*out = arch_aliases[i].arch;
			return 0;
		}
	return -1;
}

const char *xg_hw_name(enum xg_hw hw)
{
	return (unsigned)hw < 4 ? hw_names[hw] : "?";
}

int xg_hw_from_name(const char *name, enum xg_hw *out)
{
	for (unsigned i = 0; i < 4; i++)
		if (!strcmp(name, hw_names[i])) {
			*out = (enum xg_hw)i;
			return 0;
		}
	return -1;
}

/* a == b over the union, in straight-line vector code: the same exit again compares all of
 * it, and libc's memcmp took five cache lines of code per exit for that (issue 15). 16 bytes
 * a step (GCC's vector extension: SSE2, every x86-64 has it; NEON on arm64), where 8 bytes a
 * step took ~150 instructions and this ~114 (unrolled 4 times: ~270 bytes of code, 5 lines). */
static int union_equal(const uint8_t *a, const uint8_t *b)
{
	typedef uint64_t v2 __attribute__((vector_size(16)));
	v2 d = {0, 0};

#pragma GCC unroll 4
	for (unsigned i = 0; i < XG_RUN_UNION_SIZE; i += 16) {
		v2 p, q;
		memcpy(&p, a + i, 16);
		memcpy(&q, b + i, 16);
		d |= p ^ q;
	}
	return (d[0] | d[1]) == 0;
}

/*
 * The bytes of the union KVM defines for an internal error: suberror, ndata and ndata words of
 * data (api.rst 5, KVM_EXIT_INTERNAL_ERROR: ndata says how many entries of data[] are
 * valid). The rest are what an earlier exit left there: xg_exit_decode keeps them as zeros
 * in x->raw, so the same exit again compares the defined bytes alone, an emulation
 * failure's 72 (flags, the instruction, five exit-information words) rather than 256, two
 * lines of kvm_run and two of x->raw where it was five and five, cold after KVM_RUN.
 */
static unsigned internal_defined(const uint8_t *u)
{
	uint32_t nd;

	memcpy(&nd, u + 4, 4);
	return 8 + 8 * (nd < 16 ? nd : 16);
}

/* a == b over the first n bytes, n a multiple of 8: 16 bytes a step as union_equal, then the
 * last 8 when n is an odd number of words (nothing past n is read: KVM leaves the words past
 * ndata as an earlier exit wrote them). An emulation failure's 72 bytes took 9 steps of 8. */
static int words_equal(const uint8_t *a, const uint8_t *b, unsigned n)
{
	typedef uint64_t v2 __attribute__((vector_size(16)));
	v2 d = {0, 0};
	unsigned i = 0;

	for (; i + 16 <= n; i += 16) {
		v2 p, q;
		memcpy(&p, a + i, 16);
		memcpy(&q, b + i, 16);
		d |= p ^ q;
	}
	if (i < n) {
		uint64_t p, q;
		memcpy(&p, a + i, 8);
		memcpy(&q, b + i, 8);
		d[0] |= p ^ q;
	}
	return (d[0] | d[1]) == 0;
}

XG_HOT int xg_exit_decode_same(const struct xg_exit *x, const void *run, size_t run_size)
{
	struct xg_run_head h;

	if (!run || run_size < XG_RUN_MIN_SIZE)
		return 0;
	memcpy(&h, run, sizeof(h));
	/* decode_io reads the data at data_offset, outside the union: never the same */
	if (h.exit_reason != x->reason || h.exit_reason == KVM_EXIT_IO)
		return 0;
	if (h.ready_for_interrupt_injection != x->ready_for_interrupt_injection ||
	    h.if_flag != x->if_flag || h.flags != x->run_flags || h.cr8 != x->cr8 ||
	    h.apic_base != x->apic_base)
		return 0;
	if (h.exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		/* ndata is among the bytes compared: equal, x->raw's tail is the zeros */
		const uint8_t *u = (const uint8_t *)run + XG_RUN_UNION_OFFSET;
		return words_equal(x->raw, u, internal_defined(u));
	}
	return union_equal(x->raw, (const uint8_t *)run + XG_RUN_UNION_OFFSET);
}

/* noinline: linked whole, GCC put all of this (every exit kind) inside the engine's
 * repeated-exit lane, which runs it only for a new exit; the lane's code then spanned 9 KiB */
__attribute__((noinline)) int xg_exit_decode(struct xg_exit *x, const void *run, size_t run_size,
					     const struct xg_exit_opts *opts, struct xg_error *err)
{
	const uint8_t *bytes = run;
	struct xg_run_head h;
	const union xg_run_union *u;

	if (!run || run_size < XG_RUN_MIN_SIZE) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "kvm_run is %zu bytes: the header and exit union need %d", run ? run_size : 0,
				 XG_RUN_MIN_SIZE);
		return -1;
	}
	/* The caller's buffer may be unaligned (a file read into a char array): copy. */
	memcpy(&h, bytes, sizeof(h));
	memset(x, 0, offsetof(struct xg_exit, raw));
	memcpy(x->raw, bytes + XG_RUN_UNION_OFFSET, XG_RUN_UNION_SIZE);
	if (h.exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		unsigned d = internal_defined(x->raw); /* the rest undefined: zeros */
		memset(x->raw + d, 0, XG_RUN_UNION_SIZE - d);
	}
	memset(&x->u, 0, sizeof(x->u));
	u = (const union xg_run_union *)x->raw;

	x->arch = opts ? opts->arch : xg_arch_host();
	x->hw = opts ? opts->hw : XG_HW_AUTO;
	x->arch_name = xg_arch_name(x->arch);
	if (x->arch != XG_ARCH_X86_64)
		x->hw = XG_HW_NONE;
	else if (x->hw == XG_HW_AUTO)
		x->hw = xg_hw_host();
	x->reason = h.exit_reason;
	x->name = xg_exit_reason_name(x->reason);
	x->known = x->name != NULL;
	x->kind = x->known ? xg_names_exit_kind(x->reason) : "unknown";
	if (!x->name)
		x->name = "unknown";
	x->ready_for_interrupt_injection = h.ready_for_interrupt_injection;
	x->if_flag = h.if_flag;
	x->run_flags = h.flags;
	x->cr8 = h.cr8;
	x->apic_base = h.apic_base;

	enum xg_shape shape = XG_SHAPE_NONE;
	switch (x->reason) {
	case KVM_EXIT_UNKNOWN:
		shape = XG_SHAPE_HW;
		x->u.hw.hardware_exit_reason = u->hw.hardware_exit_reason;
		if (x->arch == XG_ARCH_X86_64)
			x->u.hw.name = hw_reason_name(x->hw, u->hw.hardware_exit_reason);
		break;
	case KVM_EXIT_EXCEPTION:
		shape = XG_SHAPE_EXCEPTION;
		x->u.ex.exception = u->ex.exception;
		x->u.ex.error_code = u->ex.error_code;
		if (x->arch == XG_ARCH_X86_64)
			x->u.ex.exception_name = xg_names_x86_vector(u->ex.exception);
		break;
	case KVM_EXIT_IO:
		shape = XG_SHAPE_IO;
		decode_io(x, u, bytes, run_size);
		break;
	case KVM_EXIT_HYPERCALL:
		shape = XG_SHAPE_HYPERCALL;
		decode_hypercall(x, u);
		break;
	case KVM_EXIT_DEBUG:
		if (x->arch == XG_ARCH_ARM64) {
			shape = XG_SHAPE_DEBUG_ARM64;
			x->u.debug.hsr = u->debug_arm64.hsr;
			x->u.debug.hsr_high = u->debug_arm64.hsr_high;
			x->u.debug.far = u->debug_arm64.far;
			x->u.debug.ec = (u->debug_arm64.hsr >> 26) & 0x3f;
			x->u.debug.ec_name = xg_names_arm_ec(x->u.debug.ec);
			x->u.debug.hsr_high_valid = x->run_flags & 1;
		} else {
			shape = XG_SHAPE_DEBUG_X86;
			x->u.debug.exception = u->debug_x86.exception;
			x->u.debug.exception_name = xg_names_x86_vector(u->debug_x86.exception);
			x->u.debug.pc = u->debug_x86.pc;
			x->u.debug.dr6 = u->debug_x86.dr6;
			x->u.debug.dr7 = u->debug_x86.dr7;
		}
		break;
	case KVM_EXIT_MMIO:
	case KVM_EXIT_LOONGARCH_IOCSR: {
		struct xg_exit_mmio *m = &x->u.mmio;
		shape = XG_SHAPE_MMIO;
		m->phys_addr = u->mmio.phys_addr;
		memcpy(m->data, u->mmio.data, 8);
		m->len = u->mmio.len;
		m->is_write = u->mmio.is_write;
		if (m->len > 8)
			report(x, "%s len %u > 8", x->name, m->len);
		else
			m->value = le_bytes(m->data, m->len), m->has_value = 1;
		if (m->is_write > 1)
			report(x, "%s is_write %u is not 0 or 1", x->name, m->is_write);
		break;
	}
	case KVM_EXIT_FAIL_ENTRY:
		shape = XG_SHAPE_FAIL_ENTRY;
		decode_fail_entry(x, u);
		break;
	case KVM_EXIT_TPR_ACCESS:
		shape = XG_SHAPE_TPR_ACCESS;
		x->u.tpr_access.rip = u->tpr_access.rip;
		x->u.tpr_access.is_write = u->tpr_access.is_write;
		break;
	case KVM_EXIT_S390_SIEIC:
		shape = XG_SHAPE_S390_SIEIC;
		x->u.s390_sieic.icptcode = u->s390_sieic.icptcode;
		x->u.s390_sieic.ipa = u->s390_sieic.ipa;
		x->u.s390_sieic.ipb = u->s390_sieic.ipb;
		break;
	case KVM_EXIT_S390_RESET:
		shape = XG_SHAPE_S390_RESET;
		x->u.s390_reset_flags = u->s390_reset_flags;
		decode_flags(x, "s390 reset flags", u->s390_reset_flags, 0x1f);
		break;
	case KVM_EXIT_S390_UCONTROL:
		shape = XG_SHAPE_S390_UCONTROL;
		x->u.s390_ucontrol.trans_exc_code = u->s390_ucontrol.trans_exc_code;
		x->u.s390_ucontrol.pgm_code = u->s390_ucontrol.pgm_code;
		break;
	case KVM_EXIT_DCR:
		shape = XG_SHAPE_DCR;
		x->u.dcr.dcrn = u->dcr.dcrn;
		x->u.dcr.data = u->dcr.data;
		x->u.dcr.is_write = u->dcr.is_write;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		decode_internal(x, u); /* picks its own field table */
		return 0;
	case KVM_EXIT_OSI:
		shape = XG_SHAPE_OSI;
		memcpy(x->u.osi_gprs, u->osi.gprs, sizeof(x->u.osi_gprs));
		break;
	case KVM_EXIT_PAPR_HCALL:
		shape = XG_SHAPE_PAPR_HCALL;
		x->u.papr_hcall.nr = u->papr_hcall.nr;
		x->u.papr_hcall.ret = u->papr_hcall.ret;
		memcpy(x->u.papr_hcall.args, u->papr_hcall.args, sizeof(x->u.papr_hcall.args));
		break;
	case KVM_EXIT_S390_TSCH:
		shape = XG_SHAPE_S390_TSCH;
		x->u.s390_tsch.subchannel_id = u->s390_tsch.subchannel_id;
		x->u.s390_tsch.subchannel_nr = u->s390_tsch.subchannel_nr;
		x->u.s390_tsch.io_int_parm = u->s390_tsch.io_int_parm;
		x->u.s390_tsch.io_int_word = u->s390_tsch.io_int_word;
		x->u.s390_tsch.ipb = u->s390_tsch.ipb;
		x->u.s390_tsch.dequeued = u->s390_tsch.dequeued;
		break;
	case KVM_EXIT_EPR:
		shape = XG_SHAPE_EPR;
		x->u.epr = u->epr.epr;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		shape = XG_SHAPE_SYSTEM_EVENT;
		decode_system_event(x, u);
		break;
	case KVM_EXIT_S390_STSI:
		shape = XG_SHAPE_S390_STSI;
		x->u.s390_stsi.addr = u->s390_stsi.addr;
		x->u.s390_stsi.ar = u->s390_stsi.ar;
		x->u.s390_stsi.fc = u->s390_stsi.fc;
		x->u.s390_stsi.sel1 = u->s390_stsi.sel1;
		x->u.s390_stsi.sel2 = u->s390_stsi.sel2;
		break;
	case KVM_EXIT_IOAPIC_EOI:
		shape = XG_SHAPE_EOI;
		x->u.eoi_vector = u->eoi.vector;
		break;
	case KVM_EXIT_HYPERV:
		shape = decode_hyperv(x, u);
		break;
	case KVM_EXIT_ARM_NISV:
		shape = XG_SHAPE_ARM_NISV;
		x->u.arm_nisv.esr_iss = u->arm_nisv.esr_iss;
		x->u.arm_nisv.fault_ipa = u->arm_nisv.fault_ipa;
		esr_dabt(&x->u.arm_nisv.iss, u->arm_nisv.esr_iss);
		/* ESR_ELx.ISS is 25 bits; KVM hands over only CM, WnR and DFSC of them. */
		decode_flags(x, "esr_iss", u->arm_nisv.esr_iss, 0x1ffffff);
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		shape = XG_SHAPE_MSR;
		decode_msr(x, u);
		break;
	case KVM_EXIT_XEN:
		shape = XG_SHAPE_XEN;
		x->u.xen.type = u->xen.type;
		x->u.xen.type_name = xg_names_xen_type(u->xen.type);
		x->u.xen.longmode = u->xen.longmode;
		x->u.xen.cpl = u->xen.cpl;
		x->u.xen.input = u->xen.input;
		x->u.xen.result = u->xen.result;
		memcpy(x->u.xen.params, u->xen.params, sizeof(x->u.xen.params));
		if (!x->u.xen.type_name) {
			x->u.xen.type_name = "unknown";
			report(x, "xen exit type %u is not hcall (1)", u->xen.type);
		}
		break;
	case KVM_EXIT_RISCV_SBI:
		shape = XG_SHAPE_RISCV_SBI;
		x->u.riscv_sbi.extension_id = u->riscv_sbi.extension_id;
		x->u.riscv_sbi.function_id = u->riscv_sbi.function_id;
		memcpy(x->u.riscv_sbi.args, u->riscv_sbi.args, sizeof(x->u.riscv_sbi.args));
		memcpy(x->u.riscv_sbi.ret, u->riscv_sbi.ret, sizeof(x->u.riscv_sbi.ret));
		x->u.riscv_sbi.extension_name = xg_names_riscv_sbi_ext(u->riscv_sbi.extension_id);
		break;
	case KVM_EXIT_RISCV_CSR:
		shape = XG_SHAPE_RISCV_CSR;
		x->u.riscv_csr.csr_num = u->riscv_csr.csr_num;
		x->u.riscv_csr.new_value = u->riscv_csr.new_value;
		x->u.riscv_csr.write_mask = u->riscv_csr.write_mask;
		x->u.riscv_csr.ret_value = u->riscv_csr.ret_value;
		break;
	case KVM_EXIT_NOTIFY:
		shape = XG_SHAPE_NOTIFY;
		x->u.notify.flags = u->notify.flags;
		x->u.notify.context_invalid = u->notify.flags & 1; /* KVM_NOTIFY_CONTEXT_INVALID */
		decode_flags(x, "notify flags", u->notify.flags, 1);
		break;
	case KVM_EXIT_MEMORY_FAULT: {
		struct xg_exit_memory_fault *m = &x->u.memory_fault;
		shape = XG_SHAPE_MEMORY_FAULT;
		m->flags = u->memory_fault.flags;
		m->gpa = u->memory_fault.gpa;
		m->size = u->memory_fault.size;
		m->private_ = (m->flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) != 0;
		m->flags_unknown = m->flags & ~(uint64_t)KVM_MEMORY_EXIT_FLAG_PRIVATE;
		decode_flags(x, "memory_fault flags", m->flags, KVM_MEMORY_EXIT_FLAG_PRIVATE);
		if (m->size == 0)
			report(x, "memory_fault size is 0");
		else if (m->gpa + m->size < m->gpa)
			report(x, "memory_fault range %#llx + %#llx wraps around",
			       (unsigned long long)m->gpa, (unsigned long long)m->size);
		break;
	}
	case KVM_EXIT_TDX:
		shape = XG_SHAPE_TDX;
		x->u.tdx.flags = u->tdx.flags;
		x->u.tdx.nr = u->tdx.nr;
		x->u.tdx.nr_name = xg_names_tdx_call(u->tdx.nr);
		x->u.tdx.ret = u->tdx.ret;
		memcpy(x->u.tdx.data, u->tdx.data, sizeof(x->u.tdx.data));
		break;
	case KVM_EXIT_ARM_SEA:
		shape = XG_SHAPE_ARM_SEA;
		decode_arm_sea(x, u);
		break;
	default:
		shape = x->known ? XG_SHAPE_NONE : XG_SHAPE_UNKNOWN_NR;
		if (!x->known)
			report(x, "exit reason %u is not one this engine knows; union bytes kept in raw",
			       x->reason);
		break;
	}
	x->fields = xg_fields_for(shape, x->arch);
	return 0;
}
