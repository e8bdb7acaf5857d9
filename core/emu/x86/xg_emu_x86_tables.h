/*
 * xg_emu_x86_tables.h - indices of the group and prefix tables, and the tables themselves
 * (xg_emu_x86_tables.c).
 */
#ifndef XG_EMU_X86_TABLES_H
#define XG_EMU_X86_TABLES_H

#include "xg_emu_x86_int.h"

enum { G_80 = 0, G_81, G_83, G_8F, G_C6, G_C7, G_F6, G_F7, G_FE, G_FF, G_0FBA, G_0FC7, G_COUNT };

enum {
	P_0F10 = 0,
	P_0F11,
	P_0F12,
	P_0F13,
	P_0F16,
	P_0F17,
	P_0F28,
	P_0F29,
	P_0F2B,
	P_0F6E,
	P_0F7E,
	P_0F6F,
	P_0F7F,
	P_0FD6,
	P_0FE7,
	P_0FF0,
	P_0FC3,
	P_0FC4,
	P_0FC5,
	P_0F78,
	P_3818,
	P_3819,
	P_381A,
	P_381B,
	P_382A,
	P_382C,
	P_382D,
	P_382E,
	P_382F,
	P_3858,
	P_3859,
	P_385A,
	P_385B,
	P_3878,
	P_3879,
	P_388C,
	P_388E,
	P_3A14,
	P_3A15,
	P_3A16,
	P_3A17,
	P_3A18,
	P_3A19,
	P_3A20,
	P_3A21,
	P_3A22,
	P_3A38,
	P_3A39,
	P_COUNT
};

extern const struct xg_emu_x86_opc xg_emu_x86_onebyte[256];
extern const struct xg_emu_x86_opc xg_emu_x86_twobyte[256];
extern const struct xg_emu_x86_opc xg_emu_x86_three38[256];
extern const struct xg_emu_x86_opc xg_emu_x86_three3a[256];
extern const struct xg_emu_x86_opc xg_emu_x86_groups[G_COUNT][16];
extern const struct xg_emu_x86_opc xg_emu_x86_prefixed[P_COUNT][4];
extern const uint8_t xg_emu_x86_x87_mem[8][8];
extern const uint8_t xg_emu_x86_x87_ud[8];
extern const uint64_t xg_emu_x86_x87_reg_ud[8];
extern const uint8_t xg_emu_x86_evex_tuple[3][256][4];

#endif
