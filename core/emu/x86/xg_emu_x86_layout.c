/*
 * xg_emu_x86_layout.c - where the AVX-512 components sit in this host's standard-format XSAVE
 * image (xg_emu_x86.h, xg_emu_x86_xs_layout): CPUID leaf 0DH, read once when the library is
 * loaded. Part of the emulator on an x86 host; elsewhere (an arm64 host reading an x86 dump)
 * the core has this file alone, with Intel's offsets: there is no x86 CPU to ask.
 */
#include "xg_emu_x86.h"

/* Intel's until the constructor has read CPUID leaf 0DH (SDM Vol. 1 13.2, 13.4.3) */
struct xg_emu_x86_xs_layout xg_emu_x86_xs_layout = {1088, 1152, 1664};

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
