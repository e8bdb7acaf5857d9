/*
 * t_exit_malformed.c - the guest (or a broken kernel, or a corrupt file) controls what is
 * in kvm_run. Each bound the decoder holds is proven here: the value is bounded, nothing
 * is read past it, and the report in `malformed` says what was wrong. The buffers are
 * exactly the size given to the decoder (heap, so ASan sees any overread).
 */
#include <stdlib.h>

#include "exit_test.h"

static struct xg_exit x;
static struct xg_error err;

/* The view may point into the buffer (io data): keep the last one alive until the next. */
static uint8_t *last;

static int decode_sized(struct run_buf *r, size_t size, enum xg_arch arch)
{
	uint8_t *b = malloc(size);
	struct xg_exit_opts o = {arch, XG_HW_VMX};

	memcpy(b, r->b, size);
	free(last);
	last = b;
	return xg_exit_decode(&x, b, size, &o, &err);
}

int main(void)
{
	struct run_buf r;

	/* A buffer too short for the header and union is refused with a message. */
	run_init(&r, 6);
	ok(decode_sized(&r, 100, XG_ARCH_X86_64) == -1, "a 100-byte kvm_run is refused");
	like(err.msg, "kvm_run is 100 bytes: the header and exit union need 288", "and said why");
	ok(decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64) == 0, "288 bytes are enough");
	ok(xg_exit_decode(&x, NULL, 4096, NULL, &err) == -1, "NULL buffer refused");

	/* internal.ndata > 16: bounded to 16 and reported. */
	run_init(&r, 17);
	un(&r)->internal.suberror = 4;
	un(&r)->internal.ndata = 40;
	for (int i = 0; i < 16; i++)
		un(&r)->internal.data[i] = 100 + i;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	is_int(x.u.internal.ndata, 40, "ndata kept as written");
	is_int(x.u.internal.ndata_used, 16, "but only 16 words read");
	like(x.malformed, "ndata 40 > 16", "reported: ndata 40 > 16");
	is_int(x.u.internal.extra_count, 14, "words past the defined ones kept as extra");
	is_int((long long)x.u.internal.extra[13], 115, "up to data[15]");

	/* ndata = 0xffffffff, emulation suberror: still bounded. */
	un(&r)->internal.suberror = 1;
	un(&r)->internal.ndata = 0xffffffffu;
	un(&r)->internal.data[0] = 1;
	un(&r)->emulation_failure.insn_size = 2;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	like(x.malformed, "ndata 4294967295 > 16", "huge ndata reported");
	ok(x.u.internal.has_insn && x.u.internal.insn_size == 2, "instruction bytes still read");

	/* insn_size > 15: bounded to 15, reported; nothing past insn_bytes[14] is read as
	 * instruction. */
	run_init(&r, 17);
	un(&r)->emulation_failure.suberror = 1;
	un(&r)->emulation_failure.ndata = 8;
	un(&r)->emulation_failure.flags = 1;
	un(&r)->emulation_failure.insn_size = 200;
	memset(un(&r)->emulation_failure.insn_bytes, 0xcc, 15);
	un(&r)->internal.data[3] = 0x1000; /* the first word after the bytes */
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	is_int(x.u.internal.insn_size, 15, "insn_size 200 bounded to 15");
	like(x.malformed, "insn_size 200 > 15", "reported: insn_size 200 > 15");
	ok(x.u.internal.insn[14] == 0xcc, "the 15 bytes are the instruction bytes");
	is_hex(x.u.internal.hwi.exit_reason, 0x1000, "exit info still at data[3]");

	/* insn_size 0 with the flag set: an empty instruction, not garbage. */
	un(&r)->emulation_failure.insn_size = 0;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	ok(x.u.internal.has_insn && x.u.internal.insn_size == 0, "insn_size 0 gives no bytes");

	/* Flags say bytes follow but ndata is too short for them. */
	un(&r)->emulation_failure.ndata = 2;
	un(&r)->emulation_failure.insn_size = 3;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	ok(!x.u.internal.has_insn, "no instruction read when ndata < 3");
	like(x.malformed, "flags say instruction bytes follow but ndata 2 < 3", "and reported");

	/* Unknown flag bits: kept, reported, and the words after them not misread as the
	 * hardware exit information. */
	un(&r)->emulation_failure.ndata = 8;
	un(&r)->emulation_failure.flags = 1 | 1 << 5;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	is_hex(x.u.internal.flags_unknown, 1 << 5, "unknown flag bit kept");
	like(x.malformed, "has unknown bits 0x20", "and reported");
	ok(x.u.internal.has_insn, "the known flag's payload still decoded");
	ok(!x.u.internal.has_hw, "exit information not guessed after an unknown payload");
	is_int(x.u.internal.extra_count, 5, "the 5 words kept undecoded");

	/* ndata too short for the five exit-information words. */
	un(&r)->emulation_failure.flags = 1;
	un(&r)->emulation_failure.ndata = 5;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	ok(!x.u.internal.has_hw, "no exit information from 2 words");
	like(x.malformed, "too short for the 5 exit-information words", "reported");

	/* Unknown suberror. */
	run_init(&r, 17);
	un(&r)->internal.suberror = 99;
	un(&r)->internal.ndata = 2;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	is_str(x.u.internal.suberror_name, "unknown", "suberror 99 named unknown");
	like(x.malformed, "suberror 99 is not one this engine knows", "reported");
	is_int(x.u.internal.extra_count, 2, "its data words kept");

	/* Unknown system event type; system event ndata > 16. */
	run_init(&r, 24);
	un(&r)->system_event.type = 9;
	un(&r)->system_event.ndata = 17;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	is_str(x.u.system_event.type_name, "unknown", "type 9 named unknown");
	like(x.malformed, "system event type 9 is not one this engine knows", "type reported");
	like(x.malformed, "ndata 17 > 16", "ndata reported");
	is_int(x.u.system_event.ndata_used, 16, "ndata bounded");

	/* MMIO len > 8: no value, no read past data[7]. */
	run_init(&r, 6);
	un(&r)->mmio.len = 4096;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	like(x.malformed, "mmio len 4096 > 8", "mmio len reported");
	ok(!x.u.mmio.has_value, "no value assembled");
	{
		lua_State *L = test_lua();
		lua_bind(L, &x);
		is_str(lua_eval(L, "#e.data"), "8", "Lua sees at most the 8 data bytes");
		is_str(lua_eval(L, "e.value"), "nil", "and no value");
		lua_close(L);
	}

	/* IO data outside the buffer: not read. data_offset near 2^64 must not wrap. */
	run_init(&r, 2);
	un(&r)->io.size = 4;
	un(&r)->io.count = 0xffffffffu;
	un(&r)->io.data_offset = 512;
	decode_sized(&r, 4096, XG_ARCH_X86_64);
	ok(x.u.io.data == NULL, "io data of 16 GiB refused");
	like(x.malformed, "lies outside the 4096-byte kvm_run", "reported");
	un(&r)->io.count = 1;
	un(&r)->io.data_offset = 0xfffffffffffffffeULL;
	decode_sized(&r, 4096, XG_ARCH_X86_64);
	ok(x.u.io.data == NULL, "data_offset near 2^64 does not wrap around");
	un(&r)->io.data_offset = 4092;
	decode_sized(&r, 4096, XG_ARCH_X86_64);
	ok(x.u.io.data != NULL && x.u.io.data_len == 4, "the last 4 bytes of the buffer are fine");
	un(&r)->io.size = 3;
	decode_sized(&r, 4096, XG_ARCH_X86_64);
	like(x.malformed, "io size 3 is not 1, 2 or 4", "io size 3 reported");
	un(&r)->io.size = 1;
	un(&r)->io.direction = 7;
	decode_sized(&r, 4096, XG_ARCH_X86_64);
	like(x.malformed, "io direction 7", "io direction 7 reported");

	/* Undefined flag bits in the other flags words. */
	run_init(&r, 39);
	un(&r)->memory_fault.flags = 1 << 3 | 1ULL << 40;
	un(&r)->memory_fault.size = 0x1000;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	like(x.malformed, "memory_fault flags 0x10000000008 has unknown bits 0x10000000000",
	     "memory_fault unknown flag reported");
	ok(x.u.memory_fault.private_, "private still decoded");
	un(&r)->memory_fault.flags = 0;
	un(&r)->memory_fault.gpa = ~0ULL - 10;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	like(x.malformed, "wraps around", "memory_fault range wrapping reported");
	run_init(&r, 37);
	un(&r)->notify.flags = 6;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	like(x.malformed, "notify flags 0x6 has unknown bits 0x6", "notify flags reported");
	run_init(&r, 29);
	un(&r)->msr.reason = 3;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	like(x.malformed, "msr exit reason 3 is not", "msr reason 3 reported");
	run_init(&r, 27);
	un(&r)->hyperv.type = 8;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	like(x.malformed, "hyperv exit type 8", "hyperv type reported");
	run_init(&r, 28);
	un(&r)->arm_nisv.esr_iss = 1ULL << 40;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_ARM64);
	like(x.malformed, "esr_iss 0x10000000000 has unknown bits", "ESR bits beyond ISS reported");

	/* Many reports at once stay within the buffer and end cleanly. */
	run_init(&r, 17);
	un(&r)->emulation_failure.suberror = 1;
	un(&r)->emulation_failure.ndata = 1000;
	un(&r)->emulation_failure.flags = ~0ULL;
	un(&r)->emulation_failure.insn_size = 255;
	decode_sized(&r, XG_RUN_MIN_SIZE, XG_ARCH_X86_64);
	ok(strlen(x.malformed) < sizeof(x.malformed), "the report fits its buffer");
	like(x.malformed, "ndata 1000 > 16; insn_size 255 > 15; flags 0xffffffffffffffff",
	     "reports joined in the order found");

	/* Random bytes for every exit number: decoding and printing never fail. */
	srand(1);
	int fine = 1;
	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < XG_RUN_MIN_SIZE; i++)
			r.b[i] = (uint8_t)rand();
		head(&r)->exit_reason = (uint32_t)(round % 45);
		if (decode_sized(&r, XG_RUN_MIN_SIZE + (size_t)(rand() % 64),
				 (enum xg_arch)(round % XG_ARCH_COUNT)) ||
		    strlen(x.malformed) >= sizeof(x.malformed))
			fine = 0;
		FILE *null = fopen("/dev/null", "w");
		xg_exit_print_text(&x, null);
		xg_exit_print_json(&x, null);
		fclose(null);
	}
	ok(fine, "20000 random kvm_runs decode and print");
	free(last);

	return done_testing();
}
