/*
 * fuzz_trace.c - libFuzzer target over the record reader (core/trace/trace_read.c): all of
 * a record file is untrusted input to `exitgate replay` and `exitgate test`.
 *
 * The input's first byte chooses a mode, the rest is the record. In mode 1 (odd first byte)
 * the target first walks the chunk headers and rewrites each complete chunk's CRC-32, so the
 * fuzzer reaches the chunk contents instead of stopping at the checksum. The target aborts
 * (a finding) when a promise is broken:
 *   - a refused record has a message "byte N: ..." with N within the file;
 *   - a parsed one holds whole exits: every kvm_run and op blob inside the buffer, counts
 *     within their limits, an end chunk whose count is the number of exits, and (version
 *     3) an XSAVE layout that fits the image.
 * AddressSanitizer, UBSan, -rss_limit_mb and -timeout catch the rest. Build: see
 * tests/fuzz/t_fuzz_trace.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"
#include "xg_emu_x86.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "broken promise: %s\n", what);
		abort();
	}
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_crcs(uint8_t *b, size_t len)
{
	size_t at = 8;

	while (at + 8 <= len) {
		uint32_t clen = le32(b + at + 4), crc;
		if (clen > len - at - 8 || len - at - 8 - clen < 4)
			return;
		crc = xg_trc_crc32(0, b + at, 8 + (size_t)clen);
		for (int i = 0; i < 4; i++)
			b[at + 8 + clen + i] = (uint8_t)(crc >> (8 * i));
		at += 12 + (size_t)clen;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xg_trc t;
	struct xg_error err;
	uint8_t *buf;
	size_t len;

	if (!size)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if (data[0] & 1)
		fix_crcs(buf, len);
	memset(&err, 0, sizeof(err));
	if (xg_trc_parse(buf, len, &t, &err)) {
		unsigned long long at;
		check(sscanf(err.msg, "byte %llu: ", &at) == 1, "a refusal names the byte offset");
		check(at <= len, "the offset is within the file");
		check(strlen(err.msg) > 10, "a refusal says what was wrong");
		return 0;
	}
	check(t.end_recorded == t.nexits, "the end chunk counts the exits");
	if (t.version >= 3) {
		struct xg_emu_x86_xs_layout l = {t.xs_opmask, t.xs_zmmh, t.xs_hi16zmm};
		check(t.xsave_size == XG_EMU_X86_XSAVE_SIZE &&
			  !xg_emu_x86_xs_layout_check(&l, t.xsave_size, NULL, 0),
		      "a header's XSAVE layout fits the image");
	}
	for (size_t i = 0; i < t.nexits; i++) {
		const struct xg_trc_exit *x = &t.exits[i];
		check(x->run >= t.buf && x->run + x->run_len <= t.buf + t.len, "kvm_run in the buffer");
		check(x->run_len == XG_RUN_MIN_SIZE, "kvm_run length");
		check(x->nops <= XG_TRC_MAX_OPS, "op count");
		check(x->offset < t.len, "exit offset");
		for (uint32_t k = 0; k < x->nops; k++) {
			const struct xg_trc_op *o = &x->ops[k];
			check(o->kind && o->kind < XG_TRC_KIND_COUNT, "op kind");
			check(o->blen <= XG_TRC_MAX_BLOB, "op blob size");
			check(!o->blen || (o->blob >= t.buf && o->blob + o->blen <= t.buf + t.len),
			      "op blob in the buffer");
		}
	}
	xg_trc_free(&t);
	return 0;
}
