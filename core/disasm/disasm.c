/* disasm.c - see disasm.h. cs_open costs microseconds and a handle is not thread-safe: each
 * thread keeps one handle per architecture, opened on first use, for its life. */
#include <capstone.h>
#include <stdio.h>
#include <string.h>

#include "disasm/disasm.h"

size_t xg_disasm_one(enum xg_arch arch, const uint8_t *bytes, size_t len, uint64_t addr,
		     char *out, size_t out_size)
{
	cs_arch ca;
	cs_mode cm;
	csh h;
	cs_insn *insn;
	size_t n, size = 0;

	if (arch == XG_ARCH_X86_64) {
		ca = CS_ARCH_X86;
		cm = CS_MODE_64;
	} else if (arch == XG_ARCH_ARM64) {
		ca = CS_ARCH_ARM64;
		cm = CS_MODE_ARM;
	} else {
		snprintf(out, out_size, "(no disassembler for %s)", xg_arch_name(arch));
		return 0;
	}
	static __thread csh handles[2];
	static __thread uint8_t opened[2];
	int slot = arch == XG_ARCH_ARM64;

	if (!opened[slot]) {
		if (cs_open(ca, cm, &handles[slot]) != CS_ERR_OK) {
			snprintf(out, out_size, "(capstone cannot open %s)", xg_arch_name(arch));
			return 0;
		}
		opened[slot] = 1;
	}
	h = handles[slot];
	n = cs_disasm(h, bytes, len, addr, 1, &insn);
	if (n == 1) {
		if (insn[0].op_str[0])
			snprintf(out, out_size, "%s %s", insn[0].mnemonic, insn[0].op_str);
		else
			snprintf(out, out_size, "%s", insn[0].mnemonic);
		size = insn[0].size;
		cs_free(insn, n);
	} else {
		snprintf(out, out_size, "(not an instruction capstone knows)");
	}
	return size;
}
