/*
 * trace_read.c - reading a record (the format is in trace.h). Everything in the file may be
 * wrong: every length is checked against what is left before it is used, every chunk's
 * checksum before its contents are believed, and a refusal names the byte offset.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "trace/trace.h"
#include "xg_emu_x86.h"

static const char *const kind_names[XG_TRC_KIND_COUNT] = {
    [XG_TRC_GET_REG] = "get_reg",
    [XG_TRC_SET_REG] = "set_reg",
    [XG_TRC_READ_GPA] = "read_gpa",
    [XG_TRC_WRITE_GPA] = "write_gpa",
    [XG_TRC_TRANSLATE] = "translate_gva",
    [XG_TRC_INJECT] = "inject_exception",
    [XG_TRC_EXT_ABORT] = "inject_external_abort",
    [XG_TRC_SET_ATTRS] = "set_memory_attributes",
    [XG_TRC_EMULATE] = "emulate",
    [XG_TRC_CAN_EMULATE] = "can_emulate",
    [XG_TRC_PAUSE] = "pause",
    [XG_TRC_RESUME] = "resume",
    [XG_TRC_GET_X86_REGS] = "get_x86_regs",
    [XG_TRC_SET_X86_REGS] = "set_x86_regs",
    [XG_TRC_GET_XSAVE] = "get_xsave",
    [XG_TRC_SET_XSAVE] = "set_xsave",
    [XG_TRC_MMIO_READ] = "mmio_read",
    [XG_TRC_MMIO_WRITE] = "mmio_write",
    [XG_TRC_GET_ARM64_REGS] = "get_arm64_regs",
    [XG_TRC_SET_ARM64_REGS] = "set_arm64_regs",
    [XG_TRC_GET_ARM64_VREGS] = "get_arm64_vregs",
    [XG_TRC_SET_ARM64_VREGS] = "set_arm64_vregs",
    [XG_TRC_ARM64_SYNC] = "inject_arm64_sync",
    [XG_TRC_MSR_REPLY] = "msr_reply",
};

/* the ops that carry a verdict out (what a different policy changes) */
static const uint8_t effect[XG_TRC_KIND_COUNT] = {
    [XG_TRC_SET_REG] = 1,	  [XG_TRC_WRITE_GPA] = 1,  [XG_TRC_INJECT] = 1,
    [XG_TRC_EXT_ABORT] = 1,	  [XG_TRC_SET_ATTRS] = 1,  [XG_TRC_EMULATE] = 1,
    [XG_TRC_PAUSE] = 1,		  [XG_TRC_RESUME] = 1,	   [XG_TRC_SET_X86_REGS] = 1,
    [XG_TRC_SET_XSAVE] = 1,	  [XG_TRC_MMIO_WRITE] = 1, [XG_TRC_SET_ARM64_REGS] = 1,
    [XG_TRC_SET_ARM64_VREGS] = 1, [XG_TRC_ARM64_SYNC] = 1, [XG_TRC_MSR_REPLY] = 1,
};

const char *xg_trc_kind_name(unsigned kind)
{
	return kind < XG_TRC_KIND_COUNT && kind_names[kind] ? kind_names[kind] : "unknown";
}

int xg_trc_kind_is_effect(unsigned kind)
{
	return kind < XG_TRC_KIND_COUNT && effect[kind];
}

/* CRC-32 of IEEE 802.3 (reflected polynomial 0xedb88320), bit by bit: the records are
 * small and this is not on a guest's path. */
uint32_t xg_trc_crc32(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	crc = ~crc;
	while (n--) {
		crc ^= *b++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

struct rd {
	const uint8_t *p;
	size_t len, pos, base; /* base: file offset of p[0] */
	struct xg_error *err;
	int bad;
};

static void fail(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct rd *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->bad)
		return;
	r->bad = 1;
	n = snprintf(r->err->msg, sizeof(r->err->msg), "byte %zu: ", r->base + r->pos);
	va_start(ap, fmt);
	vsnprintf(r->err->msg + n, sizeof(r->err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

static int need(struct rd *r, size_t n, const char *what)
{
	if (r->bad)
		return -1;
	if (r->len - r->pos < n) {
		fail(r, "the record ends inside %s (%zu bytes needed, %zu left)", what, n,
		     r->len - r->pos);
		return -1;
	}
	return 0;
}

static uint64_t get(struct rd *r, unsigned n, const char *what)
{
	uint64_t v = 0;

	if (need(r, n, what))
		return 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)r->p[r->pos + i] << (8 * i);
	r->pos += n;
	return v;
}

static void str(struct rd *r, char *out, size_t size, const char *what)
{
	size_t n = (size_t)get(r, 2, what);

	out[0] = 0;
	if (r->bad)
		return;
	if (n > XG_TRC_MAX_STR || n >= size) {
		fail(r, "%s is %zu bytes long, more than %zu", what, n, size - 1);
		return;
	}
	if (need(r, n, what))
		return;
	if (memchr(r->p + r->pos, 0, n)) {
		fail(r, "%s holds a NUL byte", what);
		return;
	}
	memcpy(out, r->p + r->pos, n);
	out[n] = 0;
	r->pos += n;
}

static void head(struct rd *r, struct xg_trc *t)
{
	t->version = (uint32_t)get(r, 4, "the header's version");
	if (!r->bad && (t->version < XG_TRACE_VERSION_MIN || t->version > XG_TRACE_VERSION)) {
		r->pos -= 4;
		fail(r, "format version %u; this exitgate reads versions %u to %u", t->version,
		     XG_TRACE_VERSION_MIN, XG_TRACE_VERSION);
		return;
	}
	t->arch = (uint8_t)get(r, 1, "the header's arch");
	if (!r->bad && t->arch >= XG_ARCH_COUNT) {
		r->pos--;
		fail(r, "architecture %u is not one exitgate knows", t->arch);
		return;
	}
	t->hw = (uint8_t)get(r, 1, "the header's hw");
	if (!r->bad && t->hw > XG_HW_SVM) {
		r->pos--;
		fail(r, "virtualisation kind %u is not one exitgate knows", t->hw);
		return;
	}
	get(r, 2, "the header");
	t->pid = (uint32_t)get(r, 4, "the header's pid");
	t->start_ns = get(r, 8, "the header's start time");
	str(r, t->xg_version, sizeof(t->xg_version), "the exitgate version");
	str(r, t->host, sizeof(t->host), "the host");
	str(r, t->config, sizeof(t->config), "the configuration path");
	if (r->bad || t->version < 3)
		return;
	t->xsave_size = (uint32_t)get(r, 4, "the header's XSAVE image size");
	if (!r->bad && t->xsave_size != XG_EMU_X86_XSAVE_SIZE) {
		r->pos -= 4;
		fail(r, "XSAVE images of %u bytes; this exitgate's are %u", t->xsave_size,
		     XG_EMU_X86_XSAVE_SIZE);
		return;
	}
	t->xs_opmask = (uint32_t)get(r, 4, "the header's XSAVE layout");
	t->xs_zmmh = (uint32_t)get(r, 4, "the header's XSAVE layout");
	t->xs_hi16zmm = (uint32_t)get(r, 4, "the header's XSAVE layout");
	if (!r->bad) {
		struct xg_emu_x86_xs_layout l = {t->xs_opmask, t->xs_zmmh, t->xs_hi16zmm};
		char why[160];
		if (xg_emu_x86_xs_layout_check(&l, t->xsave_size, why, sizeof(why))) {
			r->pos -= 12;
			fail(r, "the recording host's XSAVE layout is impossible: %s", why);
		}
	}
}

static void exit_chunk(struct rd *r, struct xg_trc_exit *x)
{
	x->seq = get(r, 8, "the exit's sequence number");
	x->t_ns = get(r, 8, "the exit's time");
	x->vcpu = (uint32_t)get(r, 4, "the exit's vCPU index");
	str(r, x->guest, sizeof(x->guest), "the guest name");
	x->kvm_errno = (int32_t)get(r, 4, "the KVM_RUN errno");
	x->run_len = (uint32_t)get(r, 4, "the kvm_run length");
	if (!r->bad && x->run_len != XG_RUN_MIN_SIZE) {
		r->pos -= 4;
		fail(r, "kvm_run length %u, not %u", x->run_len, XG_RUN_MIN_SIZE);
		return;
	}
	if (need(r, x->run_len, "the kvm_run bytes"))
		return;
	x->run = r->p + r->pos;
	r->pos += x->run_len;
	x->next = (uint8_t)get(r, 1, "the result");
	x->verdict = (uint8_t)get(r, 1, "the result");
	x->fail = (uint8_t)get(r, 1, "the result");
	x->cached = (uint8_t)get(r, 1, "the result");
	x->dumped = (uint8_t)get(r, 1, "the result");
	x->flags = (uint8_t)get(r, 1, "the result");
	if (!r->bad && (x->next > XG_NEXT_ERROR || x->verdict >= XG_VERDICT_COUNT ||
			x->fail >= XG_FAIL_COUNT || x->cached > 1 || x->dumped > 1 ||
			(x->flags & ~(XG_TRC_LOST_OPS | XG_TRC_NO_AVX512)))) {
		r->pos -= 6;
		fail(r,
		     "the result (next %u, verdict %u, fail %u, cached %u, dumped %u, flags %u) "
		     "is out of range",
		     x->next, x->verdict, x->fail, x->cached, x->dumped, x->flags);
		return;
	}
	str(r, x->reason, sizeof(x->reason), "the result's reason");
	x->nops = (uint32_t)get(r, 4, "the number of vCPU operations");
	if (r->bad)
		return;
	/* an op is at least 31 bytes: a count the chunk cannot hold is refused before
	 * anything is allocated for it */
	if (x->nops > XG_TRC_MAX_OPS || (size_t)x->nops * 31 > r->len - r->pos) {
		r->pos -= 4;
		fail(r, "%u vCPU operations cannot fit (at most %u, in %zu bytes left)", x->nops,
		     XG_TRC_MAX_OPS, r->len - r->pos - 4);
		return;
	}
	x->ops = calloc(x->nops ? x->nops : 1, sizeof(*x->ops));
	if (!x->ops) {
		fail(r, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < x->nops && !r->bad; i++) {
		struct xg_trc_op *op = &x->ops[i];
		size_t at = r->pos;
		op->kind = (uint8_t)get(r, 1, "a vCPU operation");
		op->flags = (uint8_t)get(r, 1, "a vCPU operation");
		op->rc = (int32_t)get(r, 4, "a vCPU operation");
		op->a = get(r, 8, "a vCPU operation");
		op->b = get(r, 8, "a vCPU operation");
		op->c = get(r, 8, "a vCPU operation");
		op->blen = (uint32_t)get(r, 4, "a vCPU operation");
		if (r->bad)
			return;
		if (!op->kind || op->kind >= XG_TRC_KIND_COUNT || (op->flags & ~XG_TRC_OP_BASE) ||
		    op->rc > 0 || op->blen > XG_TRC_MAX_BLOB) {
			r->pos = at;
			fail(r,
			     "vCPU operation %u (kind %u, flags %u, rc %d, %u bytes) is not one "
			     "exitgate writes",
			     i, op->kind, op->flags, op->rc, op->blen);
			return;
		}
		if (need(r, op->blen, "a vCPU operation's bytes"))
			return;
		op->blob = r->p + r->pos;
		r->pos += op->blen;
	}
}

int xg_trc_parse(uint8_t *buf, size_t len, struct xg_trc *t, struct xg_error *err)
{
	struct rd f = {.p = buf, .len = len, .err = err};
	size_t cap = 0;
	int have_head = 0, have_end = 0;

	memset(t, 0, sizeof(*t));
	t->buf = buf;
	t->len = len;
	if (len < 8 || memcmp(buf, XG_TRACE_MAGIC, 8)) {
		fail(&f, "not an exitgate record (it does not begin with \"XGTRACE\\n\"; records "
			 "are written by exitgate run --record)");
		goto bad;
	}
	f.pos = 8;
	while (f.pos < len) {
		size_t at = f.pos;
		uint32_t type, clen, crc;
		struct rd c;

		if (have_end) {
			fail(&f, "bytes after the end chunk");
			goto bad;
		}
		type = (uint32_t)get(&f, 4, "a chunk's type");
		clen = (uint32_t)get(&f, 4, "a chunk's length");
		if (f.bad)
			goto bad;
		if (clen > XG_TRC_MAX_CHUNK) {
			f.pos = at + 4;
			fail(&f, "a chunk of %u bytes (at most %u)", clen, XG_TRC_MAX_CHUNK);
			goto bad;
		}
		if (need(&f, (size_t)clen + 4, "a chunk (the file was cut short?)"))
			goto bad;
		crc = xg_trc_crc32(0, buf + at, 8 + (size_t)clen);
		f.pos += clen;
		if ((uint32_t)get(&f, 4, "") != crc) {
			f.pos = at;
			fail(&f, "the chunk's checksum does not match its contents (the file is "
				 "corrupt)");
			goto bad;
		}
		c = (struct rd){.p = buf + at + 8, .len = clen, .base = at + 8, .err = err};
		if (!have_head && type != XG_TRC_HEAD) {
			f.pos = at;
			fail(&f, "the first chunk is not the header");
			goto bad;
		}
		switch (type) {
		case XG_TRC_HEAD:
			if (have_head) {
				f.pos = at;
				fail(&f, "a second header");
				goto bad;
			}
			have_head = 1;
			head(&c, t);
			break;
		case XG_TRC_EXIT:
			if (t->nexits == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				void *p = realloc(t->exits, ncap * sizeof(*t->exits));
				if (!p) {
					f.pos = at;
					fail(&f, "out of memory");
					goto bad;
				}
				t->exits = p;
				cap = ncap;
			}
			memset(&t->exits[t->nexits], 0, sizeof(t->exits[0]));
			t->exits[t->nexits].offset = at;
			exit_chunk(&c, &t->exits[t->nexits]);
			t->nexits++;
			break;
		case XG_TRC_END:
			have_end = 1;
			t->end_recorded = get(&c, 8, "the end chunk");
			t->end_dropped = get(&c, 8, "the end chunk");
			t->end_why = (uint8_t)get(&c, 1, "the end chunk");
			if (!c.bad && t->end_why > XG_TRC_END_WRITE)
				fail(&c, "the end chunk's reason %u is out of range", t->end_why);
			if (!c.bad && t->end_recorded != t->nexits) {
				c.pos = 0;
				fail(&c, "the end chunk counts %llu exits, the record holds %zu",
				     (unsigned long long)t->end_recorded, t->nexits);
			}
			break;
		default:
			f.pos = at;
			fail(&f, "chunk type %u is not one exitgate writes", type);
			goto bad;
		}
		if (c.bad)
			goto bad;
		if (c.pos != c.len) {
			fail(&c, "%zu bytes left over at the end of the chunk", c.len - c.pos);
			goto bad;
		}
	}
	if (!have_end) {
		fail(&f, "the record ends without its end chunk (the file was cut short, or the "
			 "recording run was killed)");
		goto bad;
	}
	return 0;
bad:
	xg_trc_free(t);
	return -1;
}

int xg_trc_load(const char *path, struct xg_trc *out, struct xg_error *err)
{
	char *text;
	size_t len;
	struct xg_error e2;

	memset(out, 0, sizeof(*out));
	if (xg_file_read(path, "a record", (size_t)1 << 31, &text, &len, err))
		return -1;
	if (xg_trc_parse((uint8_t *)text, len, out, &e2)) {
		snprintf(err->msg, sizeof(err->msg), "%.200s: %.300s", path, e2.msg);
		return -1;
	}
	return 0;
}

void xg_trc_free(struct xg_trc *t)
{
	for (size_t i = 0; i < t->nexits; i++)
		free(t->exits[i].ops);
	free(t->exits);
	free(t->buf);
	memset(t, 0, sizeof(*t));
}
