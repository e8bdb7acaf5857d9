/*
 * xg_emu_x86_layout.c - where the AVX-512 components sit in this host's standard-format XSAVE
 * image (xg_emu_x86.h, xg_emu_x86_xs_layout): CPUID leaf 0DH, read once when the library is
 * loaded, and the move of an image between two such layouts (a record of another host's
 * exits, core/trace). Part of the emulator on an x86 host; elsewhere (an arm64 host reading an
 * x86 dump or record) the core has this file alone, with Intel's offsets: there is no x86 CPU
 * to ask.
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86.h"

/* Intel's until the constructor has read CPUID leaf 0DH (SDM Vol. 1 13.2, 13.4.3) */
struct xg_emu_x86_xs_layout xg_emu_x86_xs_layout = {1088, 1152, 1664};

const struct xg_emu_x86_xs_layout xg_emu_x86_xs_intel = {1088, 1152, 1664};
const struct xg_emu_x86_xs_layout xg_emu_x86_xs_amd = {832, 896, 1408};

/* the components in XSTATE_BV's order, bits 5, 6, 7 (SDM Vol. 1 13.1) */
static const struct {
	const char *name;
	unsigned size;
} comp[3] = {
    {"opmask", XG_EMU_X86_XS_OPMASK_SIZE},
    {"ZMM_Hi256", XG_EMU_X86_XS_ZMMH_SIZE},
    {"Hi16_ZMM", XG_EMU_X86_XS_HI16ZMM_SIZE},
};

static uint64_t comp_at(const struct xg_emu_x86_xs_layout *l, unsigned i)
{
	return i == 0 ? l->opmask : i == 1 ? l->zmmh : l->hi16zmm;
}

unsigned xg_emu_x86_xs_comp(const struct xg_emu_x86_xs_layout *l, unsigned i, unsigned *size)
{
	*size = comp[i].size;
	return (unsigned)comp_at(l, i);
}

int xg_emu_x86_xs_layout_check(const struct xg_emu_x86_xs_layout *l, unsigned size, char *why,
			       size_t n)
{
	/* what sits before the first extended component other than AVX, at the same place on
	 * every CPU: FXSAVE's region, the header, AVX at 576 (SDM Vol. 1 13.4.1-13.4.3) */
	static const struct {
		unsigned end;
		const char *what;
	} fixed[] = {
	    {512, "the legacy region (0-511)"},
	    {576, "the XSAVE header (512-575)"},
	    {XG_EMU_X86_XS_YMMH + 256, "the AVX component (576-831)"},
	};
	char dummy[1];

	if (!why || !n)
		why = dummy, n = sizeof(dummy);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t at = comp_at(l, i), end = at + comp[i].size;
		for (unsigned k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
			if (at < fixed[k].end) {
				snprintf(why, n, "the %s component at %llu overlaps %s",
					 comp[i].name, (unsigned long long)at, fixed[k].what);
				return -1;
			}
		if (end > size) {
			snprintf(why, n,
				 "the %s component at %llu (%u bytes) runs past the end of "
				 "the %u-byte image",
				 comp[i].name, (unsigned long long)at, comp[i].size, size);
			return -1;
		}
		for (unsigned j = 0; j < i; j++) {
			uint64_t o = comp_at(l, j);
			if (at < o + comp[j].size && o < end) {
				snprintf(why, n,
					 "the %s component at %llu overlaps the %s component "
					 "at %llu",
					 comp[i].name, (unsigned long long)at, comp[j].name,
					 (unsigned long long)o);
				return -1;
			}
		}
	}
	return 0;
}

int xg_emu_x86_xs_move(void *dst, const void *src, const struct xg_emu_x86_xs_layout *from,
		       const struct xg_emu_x86_xs_layout *to)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	memcpy(d, s, XG_EMU_X86_XSAVE_SIZE);
	if (xg_emu_x86_xs_layout_check(from, XG_EMU_X86_XSAVE_SIZE, NULL, 0) ||
	    xg_emu_x86_xs_layout_check(to, XG_EMU_X86_XSAVE_SIZE, NULL, 0))
		return -1;
	/* first clear where the components were, then write them where they go: their new
	 * places may overlap the old ones (AMD's Hi16_ZMM at 1408 shares bytes with Intel's
	 * ZMM_Hi256 at 1152) */
	for (unsigned i = 0; i < 3; i++)
		memset(d + comp_at(from, i), 0, comp[i].size);
	for (unsigned i = 0; i < 3; i++)
		memcpy(d + comp_at(to, i), s + comp_at(from, i), comp[i].size);
	return 0;
}

void xg_emu_x86_xs_explicit(void *xs)
{
	uint8_t *d = xs;
	uint64_t bv;

	memcpy(&bv, d + XG_EMU_X86_XS_XSTATE_BV, 8);
	if (!(bv & 1)) { /* x87: FCW, FSW, FTW, FOP, FIP, FDP (not MXCSR), ST0-7 */
		memset(d, 0, 24);
		d[XG_EMU_X86_XS_FCW] = 0x7f;
		d[XG_EMU_X86_XS_FCW + 1] = 0x03;
		memset(d + XG_EMU_X86_XS_ST0, 0, 128);
	}
	if (!(bv & 2))
		memset(d + XG_EMU_X86_XS_XMM0, 0, 256);
	if (!(bv & 4))
		memset(d + XG_EMU_X86_XS_YMMH, 0, 256);
	for (unsigned i = 0; i < 3; i++)
		if (!(bv & (0x20u << i)))
			memset(d + comp_at(&xg_emu_x86_xs_layout, i), 0, comp[i].size);
}

void xg_emu_x86_xs_state(void *dst, const void *src)
{
	memcpy(dst, src, XG_EMU_X86_XSAVE_SIZE);
	xg_emu_x86_xs_explicit(dst);
	memset((uint8_t *)dst + XG_EMU_X86_XS_XSTATE_BV, 0, 64);
}

#if defined(__x86_64__)
#include "xg_emu_x86_int.h"

__attribute__((constructor)) static void xs_layout_init(void)
{
	uint32_t r[4];
	unsigned off[3];

	xg_emu_x86_host_cpuid(0, 0, r);
	if (r[0] < 0xd)
		return;
	for (unsigned i = 0; i < 3; i++) {
		/* sub-leaf 5 + i: EAX the component's size, EBX its offset (0: not there) */
		xg_emu_x86_host_cpuid(0xd, 5 + i, r);
		off[i] = r[1];
		if (!r[0] || !r[1] || r[1] + r[0] > XG_EMU_X86_XSAVE_SIZE)
			return; /* no AVX-512 (or a layout past the image): nothing is there */
	}
	xg_emu_x86_xs_layout.opmask = off[0];
	xg_emu_x86_xs_layout.zmmh = off[1];
	xg_emu_x86_xs_layout.hi16zmm = off[2];
}
#endif
