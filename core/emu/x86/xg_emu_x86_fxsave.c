/*
 * xg_emu_x86_fxsave.c - FXSAVE and FXRSTOR (0F AE /0 and /1; REX.W: the 64-bit format) with
 * a memory operand that may be MMIO.
 *
 * The 512-byte image is the host's own FXSAVE of the guest's x87/SSE state, and FXRSTOR of
 * the guest's image runs on the host too (with the host's state saved and restored around
 * it), so the format, the reserved bytes and the FIP/FDP forms are the CPU's. The bytes FXSAVE
 * does not write (464-511 are software's: SDM Vol. 1 10.5.1, Table 10-2) are found by storing
 * into two differently filled buffers, and are not written. SDM Vol. 2 FXSAVE/FXRSTOR: #GP(0)
 * unless 16-byte aligned, #NM with CR0.TS or CR0.EM, FXRSTOR #GP(0) for MXCSR bits outside
 * MXCSR_MASK; in a mode other than 64-bit only XMM0-7 are saved and restored.
 */
#include <string.h>

#include "xg_emu_x86_int.h"

#define FX_SIZE 512

static void fx_save(int w64, void *img, void *mem)
{
	uint8_t host[512] __attribute__((aligned(16)));
	if (w64)
		__asm__ volatile("fxsave64 %[h]\n\tfxrstor64 (%[g])\n\tfxsave64 (%[m])\n\t"
				 "fxrstor64 %[h]"
				 : [h] "+m"(host)
				 : [g] "r"(img), [m] "r"(mem)
				 : "memory");
	else
		__asm__ volatile("fxsave64 %[h]\n\tfxrstor64 (%[g])\n\tfxsave (%[m])\n\t"
				 "fxrstor64 %[h]"
				 : [h] "+m"(host)
				 : [g] "r"(img), [m] "r"(mem)
				 : "memory");
}

static void fx_restore(int w64, void *mem, void *img)
{
	uint8_t host[512] __attribute__((aligned(16)));
	if (w64)
		__asm__ volatile("fxsave64 %[h]\n\tfxrstor64 (%[m])\n\tfxsave64 (%[g])\n\t"
				 "fxrstor64 %[h]"
				 : [h] "+m"(host)
				 : [g] "r"(img), [m] "r"(mem)
				 : "memory");
	else
		__asm__ volatile("fxsave64 %[h]\n\tfxrstor (%[m])\n\tfxsave64 (%[g])\n\t"
				 "fxrstor64 %[h]"
				 : [h] "+m"(host)
				 : [g] "r"(img), [m] "r"(mem)
				 : "memory");
}

static uint32_t mxcsr_mask(void)
{
	static uint32_t cached;
	uint8_t img[512] __attribute__((aligned(16)));
	uint32_t m = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (!m) {
		memset(img, 0, sizeof(img));
		__asm__ volatile("fxsave64 %0" : "=m"(img));
		memcpy(&m, img + 28, 4);
		if (!m)
			m = 0xffbf; /* SDM Vol. 1 11.6.6 */
		__atomic_store_n(&cached, m, __ATOMIC_RELAXED);
	}
	return m;
}

/* the guest's state as a host FXSAVE image (64-bit format): x87, MXCSR, XMM0-15 */
static void guest_img(struct xg_emu_x86_ctx *c, uint8_t *img)
{
	uint32_t mx;
	memset(img, 0, 512);
	memcpy(img, c->xs, 416);
	memcpy(&mx, img + XG_EMU_X86_XS_MXCSR, 4);
	mx &= mxcsr_mask();
	memcpy(img + XG_EMU_X86_XS_MXCSR, &mx, 4);
	memset(img + 28, 0, 4);
}

/*
 * Bytes [i, i + len) of the image at offset ea as accesses. Intel: one access (seen on the
 * Xeon). AMD: the image's offsets wrap at the address size, 64 KiB with a 16-bit one as 4 GiB
 * with a 32-bit one (in 64-bit mode too), so a run that crosses the wrap is two accesses, the
 * second at offset 0, each checked against the limit in its turn (seen on an AMD EPYC (Zen 5):
 * FXSAVE/FXRSTOR [bx] at 0xfff0 with a 0xffff limit complete, their last byte at 0x1ef).
 */
static void image_part(struct xg_emu_x86_ctx *c, uint64_t ea, unsigned i, unsigned len,
		       unsigned kind)
{
	const struct xg_emu_x86_insn *in = c->in;
	uint64_t am = xg_emu_x86_addr_mask(in);
	uint64_t at = (ea + i) & am;

	if (c->vendor == XG_EMU_X86_VENDOR_INTEL) {
		xg_emu_x86_add_acc(c, ea + i, in->seg, len, kind, i);
		return;
	}
	if (at + len - 1 > am) { /* crosses the wrap (never in 64-bit addressing) */
		unsigned first = (unsigned)(am + 1 - at);
		xg_emu_x86_add_acc(c, at, in->seg, first, kind, i);
		at = 0, i += first, len -= first;
	}
	xg_emu_x86_add_acc(c, at, in->seg, len, kind, i);
}

int xg_emu_x86_fxsave_plan(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	int save = ((in->modrm >> 3) & 7) == 0, w64 = in->w && in->mode == 64, rc;
	int amd = c->vendor != XG_EMU_X86_VENDOR_INTEL;
	unsigned kind = save ? XG_EMU_X86_WRITE : XG_EMU_X86_READ;
	uint64_t ea = xg_emu_x86_ea(c);

	if (!in->has_mem)
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if (c->r.cr0 & 0xc) /* EM or TS */
		return xg_emu_x86_exc(c, XG_EMU_X86_NM, 0, 0);
	if ((rc = xg_emu_x86_load_xsave(c)))
		return rc;
	/*
	 * In the CPU's order (seen on it): the segment and canonical checks, the 16-byte
	 * alignment #GP(0), a #PF on the image's last byte (FXSAVE too, which does not write
	 * it), then the image from its start. The vendors differ (the list in xg_emu_x86.h):
	 * Intel checks the first byte before the alignment (seen on the Xeon); AMD the first
	 * four, against any limit, a 4 GiB one too (xg_emu_x86_limit_wraps), finds the last
	 * byte at its wrapped offset (image_part()) and walks the first byte's page before the
	 * image's limit checks (seen on an AMD EPYC (Zen 5): at 0xfffe #SS(0) before the
	 * alignment #GP(0); at 0xfff0 with a limit of 0xfff8, #PF on 0xfff0's page, then #SS).
	 */
	xg_emu_x86_add_acc(c, ea, in->seg, amd ? 4 : 1, kind, 0);
	if (amd) {
		image_part(c, ea, FX_SIZE - 1, 1, kind);
		xg_emu_x86_add_acc(c, ea, in->seg, 1, kind, 0);
	} else {
		xg_emu_x86_add_acc(c, ea + FX_SIZE - 1, in->seg, 1, kind, 0);
	}
	if (c->nacc == 2u + (unsigned)amd) {
		c->acc[0].probe = XG_EMU_X86_PROBE_CHECK;
		c->acc[0].align = 16;
		c->acc[1].probe = XG_EMU_X86_PROBE;
		if (amd)
			c->acc[2].probe = XG_EMU_X86_PROBE;
	}
	if (save) {
		uint8_t img[512] __attribute__((aligned(16)));
		uint8_t a[512] __attribute__((aligned(16))), b[512] __attribute__((aligned(16)));
		unsigned i = 0;
		guest_img(c, img);
		memset(a, 0, sizeof(a));
		memset(b, 0xff, sizeof(b));
		fx_save(w64, img, a);
		fx_save(w64, img, b);
		/* XMM8-15 exist in 64-bit mode only */
		if (in->mode != 64)
			memset(a + 288, 0, 128), memset(b + 288, 0xff, 128);
		memcpy(c->mem, a, FX_SIZE);
		/* the runs of bytes the CPU writes, each one access */
		while (i < FX_SIZE) {
			unsigned j;
			if (a[i] != b[i]) {
				i++;
				continue;
			}
			for (j = i; j < FX_SIZE && a[j] == b[j]; j++)
				;
			image_part(c, ea, i, j - i, XG_EMU_X86_WRITE);
			i = j;
		}
	} else {
		image_part(c, ea, 0, FX_SIZE, XG_EMU_X86_READ);
	}
	return 0;
}

int xg_emu_x86_fxsave_exec(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	uint8_t mem[512] __attribute__((aligned(16))), img[512] __attribute__((aligned(16)));
	int w64 = in->w && in->mode == 64;
	uint32_t mx;
	uint64_t bv;

	if (((in->modrm >> 3) & 7) == 0)
		return 0; /* FXSAVE: the image is in c->mem */
	memcpy(mem, c->mem, 512);
	memcpy(&mx, mem + XG_EMU_X86_XS_MXCSR, 4);
	if (mx & ~mxcsr_mask())
		return xg_emu_x86_exc(c, XG_EMU_X86_GP, 1, 0);
	guest_img(c, img);
	if (in->mode != 64) /* XMM8-15 keep their values */
		memcpy(mem + 288, img + 288, 128);
	fx_restore(w64, mem, img);
	memcpy(c->xs, img, 24);
	memcpy(c->xs + XG_EMU_X86_XS_MXCSR, img + XG_EMU_X86_XS_MXCSR, 4);
	memcpy(c->xs + XG_EMU_X86_XS_ST0, img + XG_EMU_X86_XS_ST0, 128 + 256);
	memcpy(&bv, c->xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	bv |= 3;
	memcpy(c->xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
	c->xs_dirty = 1;
	return 0;
}
