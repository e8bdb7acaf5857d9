/*
 * record.c - `exitgate run --record FILE`: every exit handed to the engine, written as an
 * EXIT chunk (trace.h) with the vCPU operations the engine made while handling it.
 *
 * The engine is attached with wrapped vCPU ops: each wrapper calls the VMM's op and
 * appends what was asked and what came back to the vCPU's op log. xg_rec_handle_exit
 * clears the log, takes the baseline (the state another policy may ask for), calls
 * xg_handle_exit and writes the chunk under the recorder's lock, so the chunks of
 * concurrent vCPUs never interleave. Nothing here can stop a guest: a write that fails or
 * would pass the size cap ends the recording, says so once, and the run goes on.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "trace/trace.h"
#include "xg_emu_arm64.h"
#include "xg_emu_x86.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

struct xg_recorder {
	pthread_mutex_t lock;
	FILE *f;
	char path[200];
	uint64_t max, bytes, exits, dropped, seq;
	uint64_t t0;
	int stopped; /* XG_TRC_END_* of why, once recording stopped; -1 running */
	int closed;
	int opened; /* xg_rec_open has returned it: until then, why goes back in its err */
	int write_errno; /* the failed write's errno (XG_TRC_END_WRITE) */
	char why[512];
	xg_log_fn log; /* where why is said (xg_rec_set_log), NULL: stderr */
	void *log_ud;
};

struct xg_rec_vcpu {
	struct xg_recorder *r;
	char guest[256];
	int index;
	struct xg_vcpu_ops ops, wrap;
	void *opaque;
	struct buf log; /* the op entries of the exit in hand */
	uint32_t nops;
	int lost, base;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		void *q;
		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_n(struct buf *b, uint64_t v, unsigned n)
{
	uint8_t le[8];
	for (unsigned i = 0; i < n; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	put(b, le, n);
}

static void put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > XG_TRC_MAX_STR)
		n = XG_TRC_MAX_STR;
	put_n(b, n, 2);
	put(b, s, n);
}

/* ---- the op log ---- */

static void op(struct xg_rec_vcpu *rv, unsigned kind, int rc, uint64_t a, uint64_t b, uint64_t c,
	       const void *blob, size_t blen)
{
	if (rv->lost || rv->nops >= XG_TRC_MAX_OPS || blen > XG_TRC_MAX_BLOB ||
	    rv->log.len + blen + 64 > XG_TRC_MAX_CHUNK / 2) {
		rv->lost = 1;
		return;
	}
	put_n(&rv->log, kind, 1);
	put_n(&rv->log, rv->base ? XG_TRC_OP_BASE : 0, 1);
	put_n(&rv->log, (uint32_t)(rc > 0 ? 0 : rc), 4);
	put_n(&rv->log, a, 8);
	put_n(&rv->log, b, 8);
	put_n(&rv->log, c, 8);
	put_n(&rv->log, blob ? blen : 0, 4);
	if (blob)
		put(&rv->log, blob, blen);
	rv->nops++;
}

static int w_get_reg(void *o, const char *name, uint64_t *val)
{
	struct xg_rec_vcpu *rv = o;
	uint64_t v = 0;
	int rc = rv->ops.get_reg(rv->opaque, name, &v);
	op(rv, XG_TRC_GET_REG, rc, rc ? 0 : v, 0, 0, name, strnlen(name, 64));
	*val = v;
	return rc;
}

static int w_set_reg(void *o, const char *name, uint64_t val)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.set_reg(rv->opaque, name, val);
	op(rv, XG_TRC_SET_REG, rc, val, 0, 0, name, strnlen(name, 64));
	return rc;
}

static int w_read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.read_gpa(rv->opaque, gpa, buf, len);
	op(rv, XG_TRC_READ_GPA, rc, gpa, len, 0, rc ? NULL : buf, len);
	return rc;
}

static int w_write_gpa(void *o, uint64_t gpa, const void *buf, size_t len)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.write_gpa(rv->opaque, gpa, buf, len);
	op(rv, XG_TRC_WRITE_GPA, rc, gpa, len, 0, buf, len);
	return rc;
}

static int w_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	struct xg_rec_vcpu *rv = o;
	uint64_t g = 0;
	int rc = rv->ops.translate_gva(rv->opaque, gva, &g);
	op(rv, XG_TRC_TRANSLATE, rc, gva, rc ? 0 : g, 0, NULL, 0);
	*gpa = g;
	return rc;
}

static int w_inject(void *o, unsigned vector, int has, uint32_t code)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.inject_exception(rv->opaque, vector, has, code);
	op(rv, XG_TRC_INJECT, rc, vector, has != 0, code, NULL, 0);
	return rc;
}

static int w_abort(void *o)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.inject_external_abort(rv->opaque);
	op(rv, XG_TRC_EXT_ABORT, rc, 0, 0, 0, NULL, 0);
	return rc;
}

static int w_attrs(void *o, uint64_t gpa, uint64_t size, int priv)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.set_memory_attributes(rv->opaque, gpa, size, priv);
	op(rv, XG_TRC_SET_ATTRS, rc, gpa, size, priv != 0, NULL, 0);
	return rc;
}

static int w_emulate(void *o, const struct xg_exit *x)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.emulate(rv->opaque, x);
	op(rv, XG_TRC_EMULATE, rc, 0, 0, 0, NULL, 0);
	return rc;
}

static int w_can_emulate(void *o, const struct xg_exit *x)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.can_emulate(rv->opaque, x);
	/* an answer, not an errno: kept in a */
	op(rv, XG_TRC_CAN_EMULATE, 0, (uint64_t)(int64_t)rc, 0, 0, NULL, 0);
	return rc;
}

static int w_pause(void *o, const char *reason)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.pause(rv->opaque, reason);
	op(rv, XG_TRC_PAUSE, rc, 0, 0, 0, reason, reason ? strnlen(reason, 1024) : 0);
	return rc;
}

static int w_resume(void *o)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.resume(rv->opaque);
	op(rv, XG_TRC_RESUME, rc, 0, 0, 0, NULL, 0);
	return rc;
}

#define BLOB_GET(fn, field, kind, type)                                                            \
	static int fn(void *o, type *p)                                                            \
	{                                                                                          \
		struct xg_rec_vcpu *rv = o;                                                        \
		int rc = rv->ops.field(rv->opaque, p);                                             \
		op(rv, kind, rc, 0, 0, 0, rc ? NULL : p, sizeof(*p));                              \
		return rc;                                                                         \
	}
#define BLOB_SET(fn, field, kind, type)                                                            \
	static int fn(void *o, const type *p)                                                      \
	{                                                                                          \
		struct xg_rec_vcpu *rv = o;                                                        \
		int rc = rv->ops.field(rv->opaque, p);                                             \
		op(rv, kind, rc, 0, 0, 0, p, sizeof(*p));                                          \
		return rc;                                                                         \
	}
BLOB_GET(w_get_x86_regs, get_x86_regs, XG_TRC_GET_X86_REGS, struct xg_emu_x86_regs)
BLOB_SET(w_set_x86_regs, set_x86_regs, XG_TRC_SET_X86_REGS, struct xg_emu_x86_regs)
BLOB_GET(w_get_arm64_regs, get_arm64_regs, XG_TRC_GET_ARM64_REGS, struct xg_emu_arm64_regs)
BLOB_SET(w_set_arm64_regs, set_arm64_regs, XG_TRC_SET_ARM64_REGS, struct xg_emu_arm64_regs)
BLOB_GET(w_get_arm64_vregs, get_arm64_vregs, XG_TRC_GET_ARM64_VREGS, struct xg_emu_arm64_vregs)
BLOB_SET(w_set_arm64_vregs, set_arm64_vregs, XG_TRC_SET_ARM64_VREGS, struct xg_emu_arm64_vregs)

static int w_get_xsave(void *o, void *p)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.get_xsave(rv->opaque, p);
	op(rv, XG_TRC_GET_XSAVE, rc, 0, 0, 0, rc ? NULL : p, XG_EMU_X86_XSAVE_SIZE);
	return rc;
}

static int w_set_xsave(void *o, const void *p)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.set_xsave(rv->opaque, p);
	op(rv, XG_TRC_SET_XSAVE, rc, 0, 0, 0, p, XG_EMU_X86_XSAVE_SIZE);
	return rc;
}

static int w_mmio_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.mmio_read(rv->opaque, gpa, buf, len);
	op(rv, XG_TRC_MMIO_READ, rc, gpa, len, 0, rc ? NULL : buf, len);
	return rc;
}

static int w_mmio_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.mmio_write(rv->opaque, gpa, buf, len);
	op(rv, XG_TRC_MMIO_WRITE, rc, gpa, len, 0, buf, len);
	return rc;
}

static int w_arm64_sync(void *o, uint32_t esr, uint64_t far)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.inject_arm64_sync(rv->opaque, esr, far);
	op(rv, XG_TRC_ARM64_SYNC, rc, esr, far, 0, NULL, 0);
	return rc;
}

static int w_msr_reply(void *o, int error, uint64_t value)
{
	struct xg_rec_vcpu *rv = o;
	int rc = rv->ops.msr_reply(rv->opaque, error, value);
	op(rv, XG_TRC_MSR_REPLY, rc, error != 0, value, 0, NULL, 0);
	return rc;
}

/* ---- the file ---- */

/* Say why recording stopped, once, where the run's other messages go. Under r->lock. */
static void say_why(struct xg_recorder *r)
{
	if (!r->opened)
		return;
	if (r->log)
		r->log(r->log_ud, r->why);
	else
		fprintf(stderr, "exitgate: %s\n", r->why);
}

void xg_rec_set_log(struct xg_recorder *r, xg_log_fn fn, void *ud)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->log = fn;
	r->log_ud = ud;
	pthread_mutex_unlock(&r->lock);
}

/* Write a whole chunk, or stop recording. Under r->lock. */
static void write_chunk(struct xg_recorder *r, uint32_t type, const struct buf *b, int is_end)
{
	uint8_t hdr[8], tail[4];
	uint32_t crc;
	size_t total = 12 + b->len;

	if (r->stopped >= 0 || !r->f)
		return;
	/* room is kept for the END chunk (29 bytes) */
	if (!is_end && r->max && r->bytes + total + 29 > r->max) {
		r->stopped = XG_TRC_END_CAP;
		snprintf(r->why, sizeof(r->why),
			 "the record %s reached its cap of %llu bytes after %llu exits; later "
			 "exits are not recorded (the guests run on)",
			 r->path, (unsigned long long)r->max, (unsigned long long)r->exits);
		say_why(r);
		return;
	}
	for (int i = 0; i < 4; i++) {
		hdr[i] = (uint8_t)(type >> (8 * i));
		hdr[4 + i] = (uint8_t)(b->len >> (8 * i));
	}
	crc = xg_trc_crc32(0, hdr, 8);
	crc = xg_trc_crc32(crc, b->p, b->len);
	for (int i = 0; i < 4; i++)
		tail[i] = (uint8_t)(crc >> (8 * i));
	if (fwrite(hdr, 8, 1, r->f) != 1 || (b->len && fwrite(b->p, b->len, 1, r->f) != 1) ||
	    fwrite(tail, 4, 1, r->f) != 1 || fflush(r->f)) {
		int e = errno;
		r->stopped = XG_TRC_END_WRITE;
		r->write_errno = e;
		snprintf(r->why, sizeof(r->why),
			 "cannot write the record %s: %s; recording stopped after %llu exits (the "
			 "guests run on)",
			 r->path, strerror(e), (unsigned long long)r->exits);
		say_why(r);
		return;
	}
	r->bytes += total;
}

struct xg_recorder *xg_rec_open(const char *path, uint64_t max_bytes, const char *config,
				struct xg_error *err)
{
	struct xg_recorder *r = calloc(1, sizeof(*r));
	struct buf b = {0};
	struct utsname u;
	struct timespec ts;
	char host[400] = "unknown", abs[PATH_MAX];

	if (!r) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	if (max_bytes && max_bytes < 4096) {
		snprintf(err->msg, sizeof(err->msg),
			 "--record-max %llu is too small to hold a record (at least 4096 bytes)",
			 (unsigned long long)max_bytes);
		free(r);
		return NULL;
	}
	/* A file size limit (ulimit -f) would kill the whole run with SIGXFSZ at the write
	 * that passes it: the write must fail with EFBIG instead, and recording stop. */
	signal(SIGXFSZ, SIG_IGN);
	pthread_mutex_init(&r->lock, NULL);
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->max = max_bytes;
	r->stopped = -1;
	r->f = fopen(path, "wbx");
	if (!r->f && errno == EEXIST)
		r->f = fopen(path, "wb");
	if (!r->f) {
		snprintf(err->msg, sizeof(err->msg), "cannot write the record %s: %s", path,
			 strerror(errno));
		pthread_mutex_destroy(&r->lock);
		free(r);
		return NULL;
	}
	if (!uname(&u))
		snprintf(host, sizeof(host), "%s %s %s", u.sysname, u.release, u.machine);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!config || !realpath(config, abs))
		snprintf(abs, sizeof(abs), "%s", config ? config : "");
	r->t0 = mono_ns();
	put_n(&b, XG_TRACE_VERSION, 4);
	put_n(&b, xg_arch_host(), 1);
	put_n(&b, xg_hw_host(), 1);
	put_n(&b, 0, 2);
	put_n(&b, (uint32_t)getpid(), 4);
	put_n(&b, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, 8);
	put_str(&b, XG_VERSION);
	put_str(&b, host);
	put_str(&b, abs);
	/* the layout the get_xsave/set_xsave blobs are in: this host's, which the VMM's
	 * KVM_GET_XSAVE uses and the emulator assumes (xg_emu_x86.h); a replay on a host of the
	 * other vendor moves the components (trace.h) */
	put_n(&b, XG_EMU_X86_XSAVE_SIZE, 4);
	put_n(&b, XG_EMU_X86_XS_OPMASK, 4);
	put_n(&b, XG_EMU_X86_XS_ZMMH, 4);
	put_n(&b, XG_EMU_X86_XS_HI16ZMM, 4);
	if (b.oom || fwrite(XG_TRACE_MAGIC, 8, 1, r->f) != 1) {
		snprintf(err->msg, sizeof(err->msg), "cannot write the record %s: %s", path,
			 b.oom ? "out of memory" : strerror(errno));
		goto fail;
	}
	r->bytes = 8;
	write_chunk(r, XG_TRC_HEAD, &b, 0);
	/* no header, no run: why's "(the guests run on)" is for a record stopped later */
	if (r->stopped == XG_TRC_END_WRITE) {
		snprintf(err->msg, sizeof(err->msg), "cannot write the record %s: %s", path,
			 strerror(r->write_errno));
		goto fail;
	}
	if (r->stopped >= 0) {
		snprintf(
		    err->msg, sizeof(err->msg),
		    "the record %s cannot hold even its header (%zu bytes) within --record-max "
		    "%llu",
		    path, b.len + 12 + 8, (unsigned long long)max_bytes);
		goto fail;
	}
	free(b.p);
	r->opened = 1;
	return r;
fail:
	free(b.p);
	fclose(r->f);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

int xg_rec_close(struct xg_recorder *r, struct xg_error *err)
{
	struct buf b = {0};
	int rc = 0;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	if (!r->closed) {
		int why = r->stopped >= 0 ? r->stopped : XG_TRC_END_OK;
		if (why != XG_TRC_END_WRITE) {
			int was = r->stopped;
			put_n(&b, r->exits, 8);
			put_n(&b, r->dropped, 8);
			put_n(&b, (uint64_t)why, 1);
			r->stopped = -1; /* the END chunk goes in, also after the cap */
			write_chunk(r, XG_TRC_END, &b, 1);
			if (r->stopped < 0)
				r->stopped = was;
			free(b.p);
		}
		if (r->f && fclose(r->f) && r->stopped < 0) {
			r->stopped = XG_TRC_END_WRITE;
			snprintf(r->why, sizeof(r->why), "cannot write the record %s: %s", r->path,
				 strerror(errno));
		}
		r->f = NULL;
		r->closed = 1;
	}
	if (r->stopped >= 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%s", r->why);
		rc = -1;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void xg_rec_free(struct xg_recorder *r)
{
	if (!r)
		return;
	xg_rec_close(r, NULL);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void xg_rec_counts(struct xg_recorder *r, uint64_t *exits, uint64_t *dropped, uint64_t *bytes)
{
	pthread_mutex_lock(&r->lock);
	*exits = r->exits;
	*dropped = r->dropped;
	*bytes = r->bytes;
	pthread_mutex_unlock(&r->lock);
}

/* ---- vCPUs ---- */

struct xg_rec_vcpu *xg_rec_vcpu_new(struct xg_recorder *r, const char *guest, int index,
				    const struct xg_vcpu_ops *ops, void *opaque)
{
	struct xg_rec_vcpu *rv;
	struct xg_vcpu_ops *w;

	if (!r)
		return NULL;
	rv = calloc(1, sizeof(*rv));
	if (!rv) {
		pthread_mutex_lock(&r->lock);
		if (r->stopped < 0) {
			r->stopped = XG_TRC_END_WRITE;
			snprintf(r->why, sizeof(r->why), "out of memory: recording stopped");
			say_why(r);
		}
		pthread_mutex_unlock(&r->lock);
		return NULL;
	}
	rv->r = r;
	snprintf(rv->guest, sizeof(rv->guest), "%s", guest);
	rv->index = index;
	rv->ops = *ops;
	rv->opaque = opaque;
	w = &rv->wrap;
	/* only the ops the VMM has: the engine decides by their presence */
#define W(f, fn)                                                                                   \
	if (ops->f)                                                                                \
		w->f = fn;
	W(get_reg, w_get_reg)
	W(set_reg, w_set_reg)
	W(read_gpa, w_read_gpa)
	W(write_gpa, w_write_gpa)
	W(translate_gva, w_translate)
	W(inject_exception, w_inject)
	W(inject_external_abort, w_abort)
	W(set_memory_attributes, w_attrs)
	W(emulate, w_emulate)
	W(can_emulate, w_can_emulate)
	W(pause, w_pause)
	W(resume, w_resume)
	W(get_x86_regs, w_get_x86_regs)
	W(set_x86_regs, w_set_x86_regs)
	W(get_xsave, w_get_xsave)
	W(set_xsave, w_set_xsave)
	W(mmio_read, w_mmio_read)
	W(mmio_write, w_mmio_write)
	W(get_arm64_regs, w_get_arm64_regs)
	W(set_arm64_regs, w_set_arm64_regs)
	W(get_arm64_vregs, w_get_arm64_vregs)
	W(set_arm64_vregs, w_set_arm64_vregs)
	W(inject_arm64_sync, w_arm64_sync)
	W(msr_reply, w_msr_reply)
#undef W
	w->flags = ops->flags;
	return rv;
}

void xg_rec_vcpu_free(struct xg_rec_vcpu *rv)
{
	if (!rv)
		return;
	free(rv->log.p);
	free(rv);
}

const struct xg_vcpu_ops *xg_rec_ops(struct xg_rec_vcpu *rv, const struct xg_vcpu_ops *ops)
{
	return rv ? &rv->wrap : ops;
}

void *xg_rec_opaque(struct xg_rec_vcpu *rv, void *opaque)
{
	return rv ? rv : opaque;
}

/* The x86 registers get_reg answers in the bundled backend (exitgate.h, xg_vcpu_ops). */
static const char *const x86_names[] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi",  "rsp",	    "rbp", "r8",
    "r9",  "r10", "r11", "r12", "r13", "r14",  "r15",	    "rip", "rflags",
    "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base",
};

/* The state another policy may ask for, read before this one runs (trace.h). The
 * instruction at CS:RIP is read through translate_gva (the VMM's walk: KVM_TRANSLATE in the
 * bundled backend), in the pieces on each side of a page boundary. */
static void baseline(struct xg_rec_vcpu *rv)
{
	struct xg_emu_x86_regs regs;
	uint64_t v, lin, gpa;
	uint8_t insn[15];
	size_t got = 0;

	if (xg_arch_host() != XG_ARCH_X86_64 || !rv->ops.get_x86_regs)
		return;
	rv->base = 1;
	for (size_t i = 0; i < sizeof(x86_names) / sizeof(x86_names[0]) && rv->ops.get_reg; i++)
		w_get_reg(rv, x86_names[i], &v);
	if (!w_get_x86_regs(rv, &regs) && rv->ops.translate_gva && rv->ops.read_gpa) {
		lin = regs.seg[XG_EMU_X86_CS].base + regs.rip;
		if (!(regs.efer & 0x400)) /* not long mode: linear addresses are 32 bits */
			lin &= 0xffffffffull;
		while (got < sizeof(insn)) {
			size_t n = 4096 - ((lin + got) & 4095);
			if (n > sizeof(insn) - got)
				n = sizeof(insn) - got;
			if (w_translate(rv, lin + got, &gpa) || w_read_gpa(rv, gpa, insn + got, n))
				break;
			got += n;
		}
	}
	rv->base = 0;
}

struct xg_result xg_rec_handle_exit(struct xg_rec_vcpu *rv, xg_vcpu *v, const void *run,
				    size_t run_size, int kvm_run_errno)
{
	struct xg_recorder *r;
	struct xg_result res;
	struct buf b = {0};
	uint64_t t;
	int live;

	if (!rv)
		return xg_handle_exit(v, run, run_size, kvm_run_errno);
	r = rv->r;
	pthread_mutex_lock(&r->lock);
	live = r->stopped < 0 && !r->closed;
	pthread_mutex_unlock(&r->lock);
	rv->log.len = 0;
	rv->log.oom = 0;
	rv->nops = 0;
	rv->lost = 0;
	if (live && run_size >= XG_RUN_MIN_SIZE)
		baseline(rv);
	t = mono_ns() - r->t0;
	res = xg_handle_exit(v, run, run_size, kvm_run_errno);
	if (!live) {
		pthread_mutex_lock(&r->lock);
		if (!r->closed)
			r->dropped++;
		pthread_mutex_unlock(&r->lock);
		return res;
	}

	pthread_mutex_lock(&r->lock);
	if (run_size < XG_RUN_MIN_SIZE) {
		r->dropped++;
		pthread_mutex_unlock(&r->lock);
		return res;
	}
	put_n(&b, r->seq, 8);
	put_n(&b, t, 8);
	put_n(&b, (uint32_t)rv->index, 4);
	put_str(&b, rv->guest);
	put_n(&b, (uint32_t)kvm_run_errno, 4);
	put_n(&b, XG_RUN_MIN_SIZE, 4);
	put(&b, run, XG_RUN_MIN_SIZE);
	put_n(&b, res.next, 1);
	put_n(&b, res.verdict, 1);
	put_n(&b, res.fail, 1);
	put_n(&b, res.cached != 0, 1);
	put_n(&b, res.dumped != 0, 1);
	put_n(&b,
	      (rv->lost || rv->log.oom ? XG_TRC_LOST_OPS : 0) |
		  (rv->ops.flags & XG_OPS_NO_AVX512_STATE ? XG_TRC_NO_AVX512 : 0),
	      1);
	put_str(&b, res.reason);
	put_n(&b, rv->log.oom ? 0 : rv->nops, 4);
	if (!rv->log.oom)
		put(&b, rv->log.p, rv->log.len);
	if (b.oom) {
		r->dropped++;
	} else {
		uint64_t before = r->bytes;
		write_chunk(r, XG_TRC_EXIT, &b, 0);
		if (r->bytes != before) {
			r->exits++;
			r->seq++;
		} else {
			r->dropped++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	free(b.p);
	return res;
}
