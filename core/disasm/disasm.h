/*
 * disasm.h - instruction text through libcapstone, for people reading exits and dumps.
 * The engine's own decoders never depend on it: capstone is an oracle and a printer here.
 * Safe on any thread: each thread has its own capstone handles and its own small cache of
 * texts (keyed by the bytes, mode and address; inputs of up to 16 bytes), so the same
 * instruction costs capstone once per thread, and once a thread's handles are open a call
 * allocates nothing.
 */
#ifndef XG_DISASM_H
#define XG_DISASM_H

#include <stddef.h>
#include <stdint.h>

#include "exitgate.h"

/* Disassemble the first instruction of bytes[0..len) as it would run at addr in 64-bit
 * mode (x86_64) or A64 (arm64). Writes "mnemonic operands" to out and returns its length
 * in bytes, or 0 with "(not an instruction capstone knows)" / the reason in out. */
size_t xg_disasm_one(enum xg_arch arch, const uint8_t *bytes, size_t len, uint64_t addr,
		     char *out, size_t out_size);

/* The same for x86 code run in 16-, 32- or 64-bit mode (`bits`): what a vCPU in real or
 * protected mode executes is not 64-bit code. */
size_t xg_disasm_x86(unsigned bits, const uint8_t *bytes, size_t len, uint64_t addr, char *out,
		     size_t out_size);

#endif
