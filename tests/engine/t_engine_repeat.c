/*
 * t_engine_repeat.c - an exit that repeats the last one byte for byte is not decoded again,
 * and its cache answer is not looked up again while the cache is unchanged (engine.c,
 * xg_exit_decode_same). Neither shortcut may ever change what a policy sees or what the
 * engine answers: each case here makes the second exit differ from the first in one place
 * the shortcut must notice, or changes the cache or the policy between two identical exits.
 */
#include "engine_test.h"
#include "exit/decode.h"

/* Lua sees cr8, if_flag, the emulation data words, IO data and MMIO data; the verdict says
 * what it saw (an injected vector per case), so a stale view shows as a wrong vector. */
static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local u = 0\n"
    "return xg.policy {\n"
    "  emulation_failure = function(e)\n"
    "    if e.insn.bytes == '\\x0f\\x0b' then\n"
    "      u = u + 1\n"
    "      -- uncached for the first two calls, then cached: a store between repeats\n"
    "      if u >= 3 then return xg.cache(xg.emulate(), 'insn') end\n"
    "      return xg.inject('GP', 20 + u)\n"
    "    end\n"
    "    if e.cr8 == 5 then return xg.inject('GP', 5) end\n"
    "    if e.if_flag == 1 then return xg.inject('GP', 6) end\n"
    "    if e.ndata == 4 then return xg.inject('GP', 7) end\n"
    "    return xg.inject('GP', 1)\n"
    "  end,\n"
    "  io = function(e) return xg.inject('GP', e.data:byte(1)) end,\n"
    "  mmio = function(e) return xg.inject('GP', e.data:byte(1)) end,\n"
    "  msr = function(e) return xg.cache(xg.inject('GP', 0), 'msr') end,\n"
    "}\n";

static const char policy2[] = "local xg = require 'exitgate'\n"
			      "return { emulation_failure = function(e) return xg.stop() end }\n";

static uint32_t gp(struct fake *f)
{
	return f->injected ? f->code : 0xffffffffu;
}

/* Whether bytes b decode to exactly the exit x, byte for byte. */
static int decodes_to(const struct xg_exit *x, const uint8_t *b, size_t n)
{
	static struct xg_exit y;
	struct xg_error err;

	memset(&y, 0xa5, sizeof(y));
	return !xg_exit_decode(&y, b, n, NULL, &err) && !memcmp(x, &y, sizeof(y));
}

/*
 * The comparison itself, every bit of the union flipped in turn: the bytes are "the same"
 * exactly when decoding them gives the exit already decoded (what the engine skips by not
 * decoding again). An internal error's union past its ndata words is undefined (api.rst 5:
 * stale bytes of earlier exits, random here): decoding keeps it as zeros, so a flip there
 * is the same exit, and a flip in the defined bytes never is. Any other exit compares the
 * whole union.
 */
static void every_byte(const char *what, struct run *r, unsigned defined)
{
	static struct xg_exit x;
	struct xg_error err;
	unsigned flips = 0, same_n = 0, bad_defined = 0, bad_tail = 0;
	int mismatch = -1;

	memset(&x, 0x5a, sizeof(x));
	if (xg_exit_decode(&x, r->b, sizeof(r->b), NULL, &err))
		bail("%s", err.msg);
	ok(xg_exit_decode_same(&x, r->b, sizeof(r->b)) && decodes_to(&x, r->b, sizeof(r->b)),
	   "%s: an exit is the same as the bytes it was decoded from, and decodes to itself", what);
	for (unsigned i = 0; i < XG_RUN_UNION_SIZE; i++)
		for (unsigned bit = 0; bit < 8; bit++) {
			int same, dec;
			r->b[XG_RUN_UNION_OFFSET + i] ^= (uint8_t)(1u << bit);
			same = xg_exit_decode_same(&x, r->b, sizeof(r->b));
			dec = decodes_to(&x, r->b, sizeof(r->b));
			r->b[XG_RUN_UNION_OFFSET + i] ^= (uint8_t)(1u << bit);
			flips++;
			same_n += same != 0;
			if (same != dec && mismatch < 0)
				mismatch = (int)i;
			if (i < defined && same)
				bad_defined++;
			if (i >= defined && !same)
				bad_tail++;
		}
	ok(mismatch < 0,
	   "%s: a flipped bit is the same exit exactly when the bytes decode to it (%u flips, "
	   "first disagreement at byte %d)",
	   what, flips, mismatch);
	ok(!bad_defined && !bad_tail,
	   "%s: every flip in the %u defined bytes differs, every one past them is the same "
	   "(%u of %u the same; wrong: %u defined, %u past)",
	   what, defined, same_n, flips, bad_defined, bad_tail);
}

static void every_byte_cases(void)
{
	struct run r;
	uint64_t z = 0x9e3779b97f4a7c15ull;

	/* an emulation failure with ndata 3 (flags and the instruction: 32 bytes defined) and,
	 * past them, what an earlier exit left: random bytes */
	run_emul(&r, "\xd9\x00", 2);
	for (unsigned i = 32; i < XG_RUN_UNION_SIZE; i++) {
		z ^= z << 13, z ^= z >> 7, z ^= z << 17;
		r.b[XG_RUN_UNION_OFFSET + i] = (uint8_t)z;
	}
	every_byte("emulation failure, stale bytes past ndata", &r, 32);
	/* ndata 16, the most data[] holds: 136 bytes defined */
	kr(&r)->internal.ndata = 16;
	every_byte("internal error with ndata 16", &r, 136);
	/* an mmio exit: the whole union */
	run_mmio(&r, 0xfed00000, 4, 1);
	every_byte("mmio", &r, XG_RUN_UNION_SIZE);
}

int main(void)
{
	struct xg_error err;
	xg_engine *e = engine_with(policy, NULL, &err);
	struct fake f = {0};
	struct xg_result res;
	struct xg_stats st;
	struct run r;
	xg_vcpu *v;

	if (!e)
		bail("%s", err.msg);
	v = attach(e, &f);
	every_byte_cases();

	run_emul(&r, "\xd9\x00", 2);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 1, "plain exit: policy sees cr8 0 (#GP(%u))", gp(&f));
	f.injected = 0;
	kr(&r)->cr8 = 5;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 5, "the same exit but cr8 in the header: seen (#GP(%u))", gp(&f));
	f.injected = 0;
	kr(&r)->cr8 = 0;
	kr(&r)->if_flag = 1;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 6, "... if_flag: seen (#GP(%u))", gp(&f));
	f.injected = 0;
	kr(&r)->if_flag = 0;
	kr(&r)->emulation_failure.ndata = 4;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 7, "... a union word (ndata): seen (#GP(%u))", gp(&f));
	f.injected = 0;
	kr(&r)->emulation_failure.ndata = 3;
	r.b[32 + 255] = 0x77; /* the union's last byte, read by nothing */
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 1, "... back, with a union byte nobody reads changed (#GP(%u))", gp(&f));

	/* IO: the union is the same, the data (outside it, at data_offset) differs */
	run_io(&r, 0x3f8, 1);
	r.b[1024] = 9;
	f.injected = 0;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 9, "io data 9 seen (#GP(%u))", gp(&f));
	r.b[1024] = 10;
	f.injected = 0;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 10, "the same io exit with other data at data_offset: seen (#GP(%u))", gp(&f));
	{
		/* ... and in another buffer: nothing may point into the last one */
		static struct run r2;
		r2 = r;
		r2.b[1024] = 13;
		f.injected = 0;
		xg_handle_exit(v, r2.b, sizeof(r2.b), 0);
		ok(gp(&f) == 13, "the same io exit from another kvm_run: its data (#GP(%u))",
		   gp(&f));
	}
	/* MMIO: the data is in the union */
	run_mmio(&r, 0xfed00000, 4, 1);
	kr(&r)->mmio.data[0] = 11;
	f.injected = 0;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	kr(&r)->mmio.data[0] = 12;
	f.injected = 0;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(gp(&f) == 12, "the same mmio write with other data: seen (#GP(%u))", gp(&f));

	/* the cache changes between two identical exits: uncached twice, then stored (an msr
	 * verdict cached first, so that the ud2 exits are looked up, and miss) */
	run_msr(&r, 0x1b, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	run_emul(&r, "\x0f\x0b", 2);
	f.injected = 0;
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached && gp(&f) == 21, "ud2, call 1: uncached #GP(%u)", gp(&f));
	f.injected = 0;
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached && gp(&f) == 22, "ud2 again, call 2: not a stale miss answer... #GP(%u)",
	   gp(&f));
	/* u >= 3 now: this call caches emulate */
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached && res.verdict == XG_VERDICT_EMULATE, "the call that stores the verdict");
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.cached && res.verdict == XG_VERDICT_EMULATE,
	   "the next identical exit: the stored verdict, although the last lookup missed");
	for (int i = 0; i < 50; i++)
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	xg_vcpu_stats(v, &st);
	ok(res.cached && st.cache_hits == 51, "51 hits in a row (%llu)",
	   (unsigned long long)st.cache_hits);

	/* a decoded exit handed in by the VMM between two identical ones */
	{
		struct xg_exit x;
		struct run o;
		run_emul(&o, "\x0f\x0b", 2);
		if (xg_exit_decode(&x, o.b, sizeof(o.b), NULL, &err))
			bail("decode: %s", err.msg);
		res = xg_handle_decoded(v, &x);
		ok(res.cached && res.verdict == XG_VERDICT_EMULATE, "xg_handle_decoded: cached");
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		ok(res.cached && res.verdict == XG_VERDICT_EMULATE, "then the repeat: still right");
	}

	/* a kvm_run too short to decode, then the same bytes whole */
	res = xg_handle_exit(v, r.b, 40, 0);
	ok(res.next == XG_NEXT_ERROR, "a 40-byte kvm_run is an error, not a repeat");
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.cached && res.verdict == XG_VERDICT_EMULATE, "the whole one after it: cached");

	/* a reload between two identical exits: the cache is cleared, the new policy answers */
	put_file("p.lua", policy2);
	if (xg_engine_reload(e, &err))
		bail("reload: %s", err.msg);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached && res.verdict == XG_VERDICT_STOP,
	   "after a reload the same exit gets the new policy's verdict (%s)",
	   xg_verdict_name(res.verdict));

	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
