/*
 * fields.h - field descriptors: one table per exit shape says which fields of struct
 * xg_exit exist, under which name, with which type, and when. The Lua proxy, the text and
 * JSON printers and the plain-table copy all walk these tables, so they show the same
 * fields under the same names. Offsets are relative to the object the table describes
 * (struct xg_exit at the top, a nested struct for XG_FT_OBJ).
 */
#ifndef XG_EXIT_FIELDS_H
#define XG_EXIT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "exitgate.h"
#include "exit/names.h"

enum xg_ftype {
	XG_FT_U8,
	XG_FT_U16,
	XG_FT_U32,
	XG_FT_U64,
	XG_FT_BOOL,   /* uint8_t, shown as true/false */
	XG_FT_STR,    /* const char *; NULL means absent */
	XG_FT_CHARS,  /* char[]; "" means absent */
	XG_FT_BYTES,  /* uint8_t[] at off; length from len_off (u8 or u32) or fixed n */
	XG_FT_BYTESP, /* const uint8_t * at off; length u32 at len_off */
	XG_FT_U64S,   /* uint64_t[] at off; count from len_off (u32) or fixed n */
	XG_FT_OBJ,    /* nested object: aux is its struct xg_fieldset */
	XG_FT_FLAGS,  /* uint64_t shown with the names of aux (struct xg_flagset) */
};

/* Presentation hints. */
#define XG_FF_HEX 1   /* numbers in hex in text */
#define XG_FF_QUIET 2 /* left out of the text form (still in Lua and JSON) */

struct xg_field {
	const char *name;
	uint8_t type;
	uint8_t ff;
	int16_t when;    /* offset of a uint8_t that must be non-zero, or -1 */
	uint16_t off;
	int16_t len_off; /* BYTES/BYTESP/U64S: offset of the length, or -1 for fixed n */
	uint8_t len_u8;  /* the length is a uint8_t (else uint32_t) */
	uint16_t n;      /* fixed length / count; with len_off, the capacity; FLAGS: width in bytes */
	const void *aux;
};

struct xg_fieldset {
	const char *name;
	unsigned n;
	const struct xg_field *f;
	const struct xg_fieldset *next; /* fields that follow (the common header fields) */
};

/* Whether field f of the object at base exists for this exit. */
int xg_field_present(const struct xg_field *f, const void *base);
/* Length of a BYTES/BYTESP/U64S field. */
size_t xg_field_len(const struct xg_field *f, const void *base);
/* Integer value of a U8..U64/BOOL/FLAGS field. */
uint64_t xg_field_u64(const struct xg_field *f, const void *base);

/* The table for an exit (set by the decoder). */
static inline const struct xg_fieldset *xg_exit_fields(const struct xg_exit *x)
{
	return (const struct xg_fieldset *)x->fields;
}

/* Field tables the decoder chooses from (fields.c). */
enum xg_shape {
	XG_SHAPE_NONE, /* no payload */
	XG_SHAPE_UNKNOWN_NR,
	XG_SHAPE_HW,
	XG_SHAPE_EXCEPTION,
	XG_SHAPE_IO,
	XG_SHAPE_HYPERCALL,
	XG_SHAPE_DEBUG_X86,
	XG_SHAPE_DEBUG_ARM64,
	XG_SHAPE_MMIO,
	XG_SHAPE_FAIL_ENTRY,
	XG_SHAPE_TPR_ACCESS,
	XG_SHAPE_S390_SIEIC,
	XG_SHAPE_S390_RESET,
	XG_SHAPE_S390_UCONTROL,
	XG_SHAPE_DCR,
	XG_SHAPE_EMULATION,
	XG_SHAPE_INTERNAL,
	XG_SHAPE_OSI,
	XG_SHAPE_PAPR_HCALL,
	XG_SHAPE_S390_TSCH,
	XG_SHAPE_EPR,
	XG_SHAPE_SYSTEM_EVENT,
	XG_SHAPE_S390_STSI,
	XG_SHAPE_EOI,
	XG_SHAPE_HYPERV,
	XG_SHAPE_HYPERV_SYNIC,
	XG_SHAPE_HYPERV_HCALL,
	XG_SHAPE_HYPERV_SYNDBG,
	XG_SHAPE_ARM_NISV,
	XG_SHAPE_MSR,
	XG_SHAPE_XEN,
	XG_SHAPE_RISCV_SBI,
	XG_SHAPE_RISCV_CSR,
	XG_SHAPE_NOTIFY,
	XG_SHAPE_MEMORY_FAULT,
	XG_SHAPE_TDX,
	XG_SHAPE_ARM_SEA,
	XG_SHAPE_COUNT
};
const struct xg_fieldset *xg_fields_for(enum xg_shape shape, enum xg_arch arch);

#endif
