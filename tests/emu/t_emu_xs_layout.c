/*
 * t_emu_xs_layout.c - moving an XSAVE image between two hosts' layouts (xg_emu_x86_xs_move)
 * and refusing impossible layouts (xg_emu_x86_xs_layout_check), as `exitgate replay` does
 * with a record of a host of the other vendor.
 *
 * The move is held, byte by byte on random images, to a reference written here from the
 * definition (the registers k0-k7, ZMM0-15 bits 511:256 and ZMM16-31 read at the old places
 * must be read at the new ones; every byte in no component of either layout unchanged; the
 * old places that are no new component zero). The check is held, on random offsets, to
 * interval arithmetic over the image's fixed parts. A failure prints the seed and the layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "xg_emu_x86.h"

#define SIZE XG_EMU_X86_XSAVE_SIZE

static const struct xg_emu_x86_xs_layout amd = {832, 896, 1408}, intel = {1088, 1152, 1664};
static const unsigned sizes[3] = {64, 512, 1024};

static unsigned at(const struct xg_emu_x86_xs_layout *l, int i)
{
	return i == 0 ? l->opmask : i == 1 ? l->zmmh : l->hi16zmm;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* in component i of l? */
static int in_comp(const struct xg_emu_x86_xs_layout *l, unsigned b, int *i)
{
	for (int k = 0; k < 3; k++)
		if (b >= at(l, k) && b - at(l, k) < sizes[k]) {
			if (i)
				*i = k;
			return 1;
		}
	return 0;
}

/* the move's definition, byte by byte */
static void reference(uint8_t *d, const uint8_t *s, const struct xg_emu_x86_xs_layout *from,
		      const struct xg_emu_x86_xs_layout *to)
{
	for (unsigned b = 0; b < SIZE; b++) {
		int i;
		if (in_comp(to, b, &i))
			d[b] = s[at(from, i) + (b - at(to, i))];
		else if (in_comp(from, b, NULL))
			d[b] = 0;
		else
			d[b] = s[b];
	}
}

static void moves(uint64_t seed)
{
	static const struct {
		const char *name;
		const struct xg_emu_x86_xs_layout *from, *to;
	} pairs[] = {
	    {"AMD to Intel", &amd, &intel},
	    {"Intel to AMD", &intel, &amd},
	    {"AMD to AMD", &amd, &amd},
	    {"Intel to Intel", &intel, &intel},
	};
	uint8_t src[SIZE], got[SIZE], want[SIZE], k3[8], zmm5hi[32], zmm20[64];

	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		const struct xg_emu_x86_xs_layout *f = pairs[p].from, *t = pairs[p].to;
		int bad = 0;
		for (int round = 0; round < 64 && !bad; round++) {
			for (unsigned b = 0; b < SIZE; b++)
				src[b] = (uint8_t)rnd(&seed);
			memset(got, 0xa5, sizeof(got));
			if (xg_emu_x86_xs_move(got, src, f, t)) {
				bad = 1;
				break;
			}
			reference(want, src, f, t);
			if (memcmp(got, want, SIZE)) {
				unsigned b = 0;
				while (got[b] == want[b])
					b++;
				diag("seed %llu round %d: byte %u is %02x, not %02x",
				     (unsigned long long)seed, round, b, got[b], want[b]);
				bad = 1;
			}
			memcpy(k3, src + f->opmask + 8 * 3, 8);
			memcpy(zmm5hi, src + f->zmmh + 32 * 5, 32);
			memcpy(zmm20, src + f->hi16zmm + 64 * 4, 64);
			if (memcmp(got + t->opmask + 24, k3, 8) ||
			    memcmp(got + t->zmmh + 160, zmm5hi, 32) ||
			    memcmp(got + t->hi16zmm + 256, zmm20, 64)) {
				diag("seed %llu round %d: k3, ZMM5 or ZMM20 not where the new "
				     "layout keeps them",
				     (unsigned long long)seed, round);
				bad = 1;
			}
			if (f == t && memcmp(got, src, SIZE)) {
				diag("the same layout changed the image");
				bad = 1;
			}
		}
		ok(!bad, "%s: the registers at their new places, the rest kept, old places zero",
		   pairs[p].name);
	}
	/* an image moved there and back keeps its registers and everything outside both
	 * layouts' components */
	for (unsigned b = 0; b < SIZE; b++)
		src[b] = (uint8_t)rnd(&seed);
	xg_emu_x86_xs_move(got, src, &amd, &intel);
	xg_emu_x86_xs_move(want, got, &intel, &amd);
	int same = 1;
	for (unsigned b = 0; b < SIZE; b++)
		if (in_comp(&amd, b, NULL) || !in_comp(&intel, b, NULL))
			same &= want[b] == src[b];
	ok(same, "AMD to Intel and back: the AMD image's components and the rest as they were");
}

/* the check's definition: no byte of a component below 832 or past size, none shared */
static int expect_ok(const struct xg_emu_x86_xs_layout *l, unsigned size)
{
	for (int i = 0; i < 3; i++) {
		uint64_t a = at(l, i);
		if (a < 832 || a + sizes[i] > size)
			return 0;
		for (int j = 0; j < i; j++) {
			uint64_t o = at(l, j);
			if (a < o + sizes[j] && o < a + sizes[i])
				return 0;
		}
	}
	return 1;
}

static void checks(uint64_t seed)
{
	static const struct {
		struct xg_emu_x86_xs_layout l;
		const char *says;
	} bad[] = {
	    {{0, 896, 1408}, "the opmask component at 0 overlaps the legacy region (0-511)"},
	    {{500, 896, 1408}, "the opmask component at 500 overlaps the legacy region"},
	    {{832, 520, 1408},
	     "the ZMM_Hi256 component at 520 overlaps the XSAVE header (512-575)"},
	    {{832, 896, 700}, "the Hi16_ZMM component at 700 overlaps the AVX component (576-831)"},
	    {{832, 896, 1665},
	     "the Hi16_ZMM component at 1665 (1024 bytes) runs past the end of "
	     "the 2688-byte image"},
	    {{4294967295u, 896, 1408}, "the opmask component at 4294967295 (64 bytes) runs past"},
	    {{832, 2177, 1408}, "the ZMM_Hi256 component at 2177 (512 bytes) runs past"},
	    {{832, 860, 1408},
	     "the ZMM_Hi256 component at 860 overlaps the opmask component at 832"},
	    {{1408, 896, 1408}, "the Hi16_ZMM component at 1408 overlaps the opmask component"},
	    {{832, 1400, 1664}, "the Hi16_ZMM component at 1664 overlaps the ZMM_Hi256 component"},
	};
	char why[200];
	int agree = 1;

	ok(!xg_emu_x86_xs_layout_check(&amd, SIZE, why, sizeof(why)), "AMD's layout fits");
	ok(!xg_emu_x86_xs_layout_check(&intel, SIZE, why, sizeof(why)), "Intel's layout fits");
	ok(!xg_emu_x86_xs_layout_check(&xg_emu_x86_xs_layout, SIZE, why, sizeof(why)),
	   "this host's layout fits (%u, %u, %u)", xg_emu_x86_xs_layout.opmask,
	   xg_emu_x86_xs_layout.zmmh, xg_emu_x86_xs_layout.hi16zmm);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t img[SIZE], out[SIZE];
		why[0] = 0;
		is_int(xg_emu_x86_xs_layout_check(&bad[i].l, SIZE, why, sizeof(why)), -1,
		       "%u, %u, %u refused", bad[i].l.opmask, bad[i].l.zmmh, bad[i].l.hi16zmm);
		like(why, bad[i].says, "... saying why");
		memset(img, 7, sizeof(img));
		ok(xg_emu_x86_xs_move(out, img, &bad[i].l, &amd) == -1 &&
		       xg_emu_x86_xs_move(out, img, &amd, &bad[i].l) == -1 &&
		       !memcmp(out, img, SIZE),
		   "... and the move refuses it, copying the image unchanged");
	}
	ok(xg_emu_x86_xs_layout_check(&intel, 2687, NULL, 0) == -1,
	   "Intel's layout in a 2687-byte image runs past it (no message asked for)");
	for (int i = 0; i < 200000 && agree; i++) {
		/* offsets mostly near the image, some anywhere */
		struct xg_emu_x86_xs_layout l;
		unsigned *o[3] = {&l.opmask, &l.zmmh, &l.hi16zmm};
		for (int k = 0; k < 3; k++)
			*o[k] =
			    rnd(&seed) % 16 ? (unsigned)(rnd(&seed) % 3000) : (unsigned)rnd(&seed);
		int got = !xg_emu_x86_xs_layout_check(&l, SIZE, why, sizeof(why));
		if (got != expect_ok(&l, SIZE)) {
			diag("seed %llu: %u, %u, %u: check says %s", (unsigned long long)seed,
			     l.opmask, l.zmmh, l.hi16zmm, got ? "fits" : why);
			agree = 0;
		}
	}
	ok(agree, "200000 random layouts: the check agrees with the interval arithmetic");
}

/*
 * xg_emu_x86_xs_state: an image as the registers XRSTOR loads from it (SDM Vol. 1 13.6). On
 * random images (this host's layout) with random XSTATE_BV: a component whose bit is clear
 * reads as its initial values whatever its bytes, so the same image with stale bytes there
 * gives the same state; marking in use a component that holds its initial values does not
 * change the state; a byte changed in a component in use, or in MXCSR (loaded whatever the
 * bits, with SSE or AVX requested), does.
 */
static void states(uint64_t seed)
{
	static uint8_t a[XG_EMU_X86_XSAVE_SIZE], b[XG_EMU_X86_XSAVE_SIZE];
	static uint8_t sa[XG_EMU_X86_XSAVE_SIZE], sb[XG_EMU_X86_XSAVE_SIZE];
	const struct xg_emu_x86_xs_layout *h = &xg_emu_x86_xs_layout;
	/* bit, offset, size of each component a clear bit makes initial (x87: FCW..FDP, ST) */
	const struct {
		unsigned bit, off, size;
	} c[] = {{0, 0, 24},	       {0, XG_EMU_X86_XS_ST0, 128}, {1, XG_EMU_X86_XS_XMM0, 256},
		 {2, 576, 256},	       {5, h->opmask, 64},	    {6, h->zmmh, 512},
		 {7, h->hi16zmm, 1024}};
	int stale = 1, marked = 1, changed = 1, mxcsr = 1;

	for (int n = 0; n < 2000; n++) {
		uint64_t bv = rnd(&seed) & 0xe7, bv2;
		unsigned k = (unsigned)(rnd(&seed) % (sizeof(c) / sizeof(c[0])));
		for (unsigned i = 0; i < sizeof(a); i++)
			a[i] = (uint8_t)rnd(&seed);
		memcpy(a + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
		/* stale bytes under a clear bit: the same state */
		memcpy(b, a, sizeof(a));
		for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++)
			if (!(bv & (1u << c[i].bit)))
				b[c[i].off + (unsigned)(rnd(&seed) % c[i].size)] ^= 0x5a;
		xg_emu_x86_xs_state(sa, a);
		xg_emu_x86_xs_state(sb, b);
		stale &= !memcmp(sa, sb, sizeof(sa));
		/* component k marked in use with its initial values: the same state */
		memcpy(b, a, sizeof(a));
		if (!(bv & (1u << c[k].bit))) {
			for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++)
				if (c[i].bit == c[k].bit) {
					memset(b + c[i].off, 0, c[i].size);
					if (c[i].bit == 0 && c[i].off == 0)
						b[0] = 0x7f, b[1] = 0x03; /* FCW 037FH */
				}
			bv2 = bv | (1u << c[k].bit);
			memcpy(b + XG_EMU_X86_XS_XSTATE_BV, &bv2, 8);
			xg_emu_x86_xs_state(sb, b);
			marked &= !memcmp(sa, sb, sizeof(sa));
		} else {
			/* in use: a byte of it changed is another state */
			b[c[k].off + (unsigned)(rnd(&seed) % c[k].size)] ^= 0x01;
			xg_emu_x86_xs_state(sb, b);
			changed &= memcmp(sa, sb, sizeof(sa)) != 0;
		}
		memcpy(b, a, sizeof(a));
		b[XG_EMU_X86_XS_MXCSR] ^= 0x01;
		xg_emu_x86_xs_state(sb, b);
		mxcsr &= memcmp(sa, sb, sizeof(sa)) != 0;
	}
	ok(stale, "state: stale bytes under a clear XSTATE_BV bit do not change it");
	ok(marked, "state: a component marked in use with its initial values does not change it");
	ok(changed, "state: a byte changed in a component in use changes it");
	ok(mxcsr, "state: MXCSR changes it, whatever the bits");
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed1a70u;

	diag("seed %llu (give another as the first argument)", (unsigned long long)seed);
	moves(seed);
	checks(seed ^ 0x9e3779b97f4a7c15ull);
	states(seed ^ 0x5bd1e995ull);
	return done_testing();
}
