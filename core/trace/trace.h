/*
 * trace.h - record and replay of exits (`exitgate run --record`, `exitgate replay`).
 *
 * A record is a file of chunks after an 8-byte magic. All numbers are little-endian.
 *
 *   file    = magic "XGTRACE\n" (8 bytes), chunk*
 *   chunk   = u32 type, u32 len, payload[len], u32 crc
 *             crc: CRC-32 (IEEE 802.3, the zlib one) of type, len and payload
 *   HEAD(1) = u32 version (XG_TRACE_VERSION), u8 arch (enum xg_arch), u8 hw (enum xg_hw),
 *             u16 0, u32 pid, u64 start (UTC ns since 1970),
 *             str exitgate version, str host (uname: sysname release machine),
 *             str config (the absolute path of the run's configuration),
 *             u32 xsave_size, u32 opmask, u32 zmm_hi256, u32 hi16_zmm     (version 3 on)
 *             xsave_size: the bytes of every get_xsave/set_xsave blob (XG_EMU_X86_XSAVE_SIZE;
 *             another size is refused); opmask, zmm_hi256, hi16_zmm: where the recording
 *             host's standard-format XSAVE image holds the AVX-512 components (its CPUID
 *             leaf 0DH, sub-leaves 5-7, SDM Vol. 1 13.4.3: AMD 832, 896, 1408; Intel 1088,
 *             1152, 1664; Intel's where the host has no AVX-512). The blobs are in that
 *             layout; replay moves them into its own host's (xg_emu_x86_xs_move). Offsets
 *             that overlap the legacy region, the header or AVX (0-831), run past the image
 *             or overlap each other are refused. Version 2 has none of the four: its layout
 *             is unknown, and replay takes it to be its own host's.
 *   EXIT(2) = u64 seq (0, 1, ... over the whole run), u64 t (ns since start, monotonic),
 *             u32 vcpu index, str guest, i32 kvm_run errno,
 *             u32 run_len, run[run_len] (struct kvm_run: header and union, as the engine
 *             decoded it: XG_RUN_MIN_SIZE bytes),
 *             u8 next, u8 verdict, u8 fail, u8 cached, u8 dumped,
 *             u8 flags (XG_TRC_LOST_OPS, XG_TRC_NO_AVX512), str reason, u32 nops, op[nops]
 *   op      = u8 kind (enum xg_trc_kind), u8 flags (XG_TRC_OP_*), i32 rc, u64 a, u64 b,
 *             u64 c, u32 blen, blob[blen]      (what a, b, c and blob are: enum below)
 *   END(3)  = u64 exits recorded, u64 exits not recorded, u8 why (enum xg_trc_end)
 *   str     = u16 len, bytes[len] (no NUL)
 *
 * What an EXIT holds of the vCPU: every vCPU operation the engine made while handling the
 * exit (the policy's register and memory reads, the emulator's reads, device reads, and the
 * writes and injections that carried the verdict out), in order, with their results; and,
 * taken before the policy ran, a baseline (flag XG_TRC_OP_BASE) so that another policy can be
 * replayed on it: on x86 the register file of the built-in emulator (get_x86_regs), the
 * registers get_reg knows by name, and the instruction bytes at CS:RIP as the emulator
 * fetches them (the page walk's reads). Not captured: guest memory nobody read, the vector
 * registers unless an instruction needed them (get_xsave), anything the VMM did outside the
 * engine (device models, exits the VMM answered by itself), arm64 baselines.
 *
 * The file ends with END; one without it was cut short (or its run killed) and is refused.
 */
#ifndef XG_TRACE_H
#define XG_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "exitgate.h"

#define XG_TRACE_MAGIC "XGTRACE\n"
/* 2: the blobs of get_x86_regs/set_x86_regs are struct xg_emu_x86_regs as it is now, its
 * segments in kvm_segment's field order (1 had type, s, dpl, present ...)
 * 3: HEAD ends with the XSAVE image's size and layout (2 is still read: layout unknown) */
#define XG_TRACE_VERSION     3
#define XG_TRACE_VERSION_MIN 2 /* the oldest version read */

enum xg_trc_chunk { XG_TRC_HEAD = 1, XG_TRC_EXIT = 2, XG_TRC_END = 3 };

/* One vCPU operation. rc is the op's return (0 or -errno). */
enum xg_trc_kind {
	XG_TRC_GET_REG = 1,	/* blob name, a value */
	XG_TRC_SET_REG,		/* blob name, a value */
	XG_TRC_READ_GPA,	/* a gpa, b len, blob the bytes (rc 0) */
	XG_TRC_WRITE_GPA,	/* a gpa, b len, blob the bytes */
	XG_TRC_TRANSLATE,	/* a gva, b gpa */
	XG_TRC_INJECT,		/* a vector, b has_error_code, c error_code */
	XG_TRC_EXT_ABORT,	/* - */
	XG_TRC_SET_ATTRS,	/* a gpa, b size, c to_private */
	XG_TRC_EMULATE,		/* - (the VMM's own emulator) */
	XG_TRC_CAN_EMULATE,	/* rc the answer */
	XG_TRC_PAUSE,		/* blob reason */
	XG_TRC_RESUME,		/* - */
	XG_TRC_GET_X86_REGS,	/* blob struct xg_emu_x86_regs */
	XG_TRC_SET_X86_REGS,	/* blob struct xg_emu_x86_regs */
	XG_TRC_GET_XSAVE,	/* blob XG_EMU_X86_XSAVE_SIZE bytes, HEAD's layout */
	XG_TRC_SET_XSAVE,	/* blob (as get_xsave) */
	XG_TRC_MMIO_READ,	/* a gpa, b len, blob the bytes (rc 0) */
	XG_TRC_MMIO_WRITE,	/* a gpa, b len, blob the bytes */
	XG_TRC_GET_ARM64_REGS,	/* blob struct xg_emu_arm64_regs */
	XG_TRC_SET_ARM64_REGS,	/* blob */
	XG_TRC_GET_ARM64_VREGS, /* blob struct xg_emu_arm64_vregs */
	XG_TRC_SET_ARM64_VREGS, /* blob */
	XG_TRC_ARM64_SYNC,	/* a esr, b far */
	XG_TRC_MSR_REPLY,	/* a error, b value */
	XG_TRC_KIND_COUNT
};
const char *xg_trc_kind_name(unsigned kind);
/* 1 for the ops that change the guest or the run (the verdict carried out): what replay
 * compares. */
int xg_trc_kind_is_effect(unsigned kind);

#define XG_TRC_OP_BASE 0x1 /* taken before the policy ran, for other policies */

/* XG_TRC_LOST_OPS: more ops than XG_TRC_MAX_OPS / bytes: the rest not kept.
 * XG_TRC_NO_AVX512: the vCPU's VMM could not carry AVX-512 state (its ops had
 * XG_OPS_NO_AVX512_STATE): replay's stand-in says so too. */
#define XG_TRC_LOST_OPS	 0x1
#define XG_TRC_NO_AVX512 0x2

#define XG_TRC_MAX_OPS	 4096
#define XG_TRC_MAX_BLOB	 (64u << 10)
#define XG_TRC_MAX_CHUNK (16u << 20)
#define XG_TRC_MAX_STR	 4096

enum xg_trc_end { XG_TRC_END_OK = 0, XG_TRC_END_CAP, XG_TRC_END_WRITE };

struct xg_trc_op {
	uint8_t kind, flags;
	int32_t rc;
	uint64_t a, b, c;
	uint32_t blen;
	const uint8_t *blob; /* into the record's buffer */
};

struct xg_trc_exit {
	uint64_t offset; /* of the chunk in the file */
	uint64_t seq, t_ns;
	uint32_t vcpu;
	char guest[256];
	int32_t kvm_errno;
	uint32_t run_len;
	const uint8_t *run;
	uint8_t next, verdict, fail, cached, dumped, flags;
	char reason[XG_TRC_MAX_STR + 1];
	uint32_t nops;
	struct xg_trc_op *ops;
};

struct xg_trc {
	uint8_t *buf; /* the file's bytes (owned) */
	size_t len;
	uint32_t version;
	uint8_t arch, hw;
	uint32_t pid;
	uint64_t start_ns;
	char xg_version[64], host[256], config[XG_TRC_MAX_STR + 1];
	/* version 3: the recording host's image size and AVX-512 offsets (checked); version
	 * 2: all 0, the layout unknown */
	uint32_t xsave_size, xs_opmask, xs_zmmh, xs_hi16zmm;
	size_t nexits;
	struct xg_trc_exit *exits;
	uint64_t end_recorded, end_dropped;
	uint8_t end_why;
};

/* Parse a record held in buf[0..len) (taken over: freed by xg_trc_free, also on failure).
 * 0, or -1 with "byte N: what was wrong" in err. Checks every length, checksum, kind and
 * count; allocates at most a small multiple of len. */
int xg_trc_parse(uint8_t *buf, size_t len, struct xg_trc *out, struct xg_error *err);
/* Read and parse a file ("FILE: byte N: ..." on failure). */
int xg_trc_load(const char *path, struct xg_trc *out, struct xg_error *err);
void xg_trc_free(struct xg_trc *t);

uint32_t xg_trc_crc32(uint32_t crc, const void *p, size_t n);

/* ---- recording (record.c) ----
 * One recorder per run, one xg_rec_vcpu per vCPU. The vCPU's ops are wrapped: the engine is
 * attached with xg_rec_ops()/xg_rec_opaque() and the loop calls xg_rec_handle_exit instead
 * of xg_handle_exit. Every function takes NULL (no recording) and then passes through.
 * Chunks of concurrent vCPUs are written whole under the recorder's lock. A write that fails
 * or would pass max_bytes stops the recording (said once, xg_rec_set_log); the guests run on. */
struct xg_recorder;
struct xg_rec_vcpu;

struct xg_recorder *xg_rec_open(const char *path, uint64_t max_bytes, const char *config,
				struct xg_error *err);
/* Where the recorder says that recording stopped (one line, no newline): the run's log, so
 * that `--log-format json` keeps every stderr line JSON. Default (fn NULL): stderr, as
 * "exitgate: LINE". fn may be called on any vCPU thread, under the recorder's lock. */
void xg_rec_set_log(struct xg_recorder *r, xg_log_fn fn, void *ud);
/* Write END and close the file (idempotent). 0, or -1 when the record is incomplete (a
 * write failed, or the cap was reached), with why in err. */
int xg_rec_close(struct xg_recorder *r, struct xg_error *err);
void xg_rec_free(struct xg_recorder *r);
/* Exits recorded, and bytes written so far. */
void xg_rec_counts(struct xg_recorder *r, uint64_t *exits, uint64_t *dropped, uint64_t *bytes);

struct xg_rec_vcpu *xg_rec_vcpu_new(struct xg_recorder *r, const char *guest, int index,
				    const struct xg_vcpu_ops *ops, void *opaque);
void xg_rec_vcpu_free(struct xg_rec_vcpu *rv);
/* The ops and opaque to attach the engine with: the wrappers, or ops/opaque themselves
 * when rv is NULL. */
const struct xg_vcpu_ops *xg_rec_ops(struct xg_rec_vcpu *rv, const struct xg_vcpu_ops *ops);
void *xg_rec_opaque(struct xg_rec_vcpu *rv, void *opaque);
struct xg_result xg_rec_handle_exit(struct xg_rec_vcpu *rv, xg_vcpu *v, const void *run,
				    size_t run_size, int kvm_run_errno);

/* ---- replay (replay.c) ---- */
struct xg_replay_opts {
	const char *path;
	const char *policy; /* NULL: the recorded configuration's policies */
	int json;
	int all; /* print every exit, also with a policy given */
};
/* 0 every verdict as recorded, 1 some differ, 2 the record or the policy cannot be used. */
int xg_replay(const struct xg_replay_opts *o, FILE *out);

#endif
