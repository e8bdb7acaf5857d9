/*
 * fuzz_policy.c - libFuzzer target over policy source: the input is a policy file.
 *
 * Each input is loaded twice, the way a person and a VMM meet an untrusted policy:
 *   - xg_policy_check (`exitgate check`): load under the guest's limits, then every handler
 *     called with a synthetic exit of its kind;
 *   - an engine with one guest and a fake vCPU whose ops do nothing harmful, fed one exit
 *     of each common kind (io, mmio, emulation failure, msr, memory_fault, hypercall) and
 *     the same again (a second call sees what the first left behind: coroutines, stashed
 *     objects, a state rebuilt after a memory kill).
 * Findings are what the sandbox promises never to do: crash, abort (an unprotected Lua
 * error), hang (libFuzzer's -timeout), or grow without bound (-rss_limit_mb). Seeds are the
 * shipped policies and tests/fuzz/policy_seeds; the dictionary is tests/fuzz/policy.dict.
 * Build and run: tests/fuzz/t_fuzz_policy.sh (the suite's bounded run) says how.
 */
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitgate.h"

static char dir[64], path[128];
static FILE *devnull;

static int f_get_reg(void *o, const char *n, uint64_t *v)
{
	(void)o;
	(void)n;
	*v = 0x1000;
	return 0;
}

static int f_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	(void)o;
	if (gpa > 0x10000 || len > 0x10000)
		return -14;
	memset(buf, 0x90, len);
	return 0;
}

static int f_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	(void)o;
	*gpa = gva & 0xffff;
	return 0;
}

static int f_ok(void *o)
{
	(void)o;
	return 0;
}

static int f_inject(void *o, unsigned vector, int has, uint32_t code)
{
	(void)o;
	(void)vector;
	(void)has;
	(void)code;
	return 0;
}

static int f_attrs(void *o, uint64_t gpa, uint64_t size, int priv)
{
	(void)o;
	(void)gpa;
	(void)size;
	(void)priv;
	return 0;
}

static int f_pause(void *o, const char *why)
{
	(void)o;
	(void)why;
	return 0;
}

static const struct xg_vcpu_ops ops = {
    .get_reg = f_get_reg,
    .read_gpa = f_read,
    .translate_gva = f_translate,
    .inject_exception = f_inject,
    .inject_external_abort = f_ok,
    .set_memory_attributes = f_attrs,
    .pause = f_pause,
    .resume = f_ok,
};

static void quiet(void *ud, const char *line)
{
	(void)ud;
	(void)line;
}

static void run_exits(xg_vcpu *v)
{
	_Alignas(8) uint8_t b[4096];
	struct kvm_run *r = (struct kvm_run *)b;

	for (int kind = 0; kind < 6; kind++) {
		memset(b, 0, sizeof(b));
		switch (kind) {
		case 0:
			r->exit_reason = KVM_EXIT_IO;
			r->io.port = 0x3f8;
			r->io.size = 1;
			r->io.count = 1;
			r->io.direction = 1;
			r->io.data_offset = 1024;
			break;
		case 1:
			r->exit_reason = KVM_EXIT_MMIO;
			r->mmio.phys_addr = 0xfee00000;
			r->mmio.len = 4;
			break;
		case 2:
			r->exit_reason = KVM_EXIT_INTERNAL_ERROR;
			r->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
			r->emulation_failure.ndata = 3;
			r->emulation_failure.flags =
			    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
			r->emulation_failure.insn_size = 2;
			r->emulation_failure.insn_bytes[0] = 0x0f;
			r->emulation_failure.insn_bytes[1] = 0x0b;
			break;
		case 3:
			r->exit_reason = KVM_EXIT_X86_RDMSR;
			r->msr.index = 0x1a0;
			r->msr.reason = 1;
			break;
		case 4: {
			uint64_t w[3] = {8, 0x100000, 0x1000};
			r->exit_reason = 39;
			memcpy(b + 32, w, sizeof(w));
			break;
		}
		default:
			r->exit_reason = KVM_EXIT_HYPERCALL;
			r->hypercall.nr = 12;
			break;
		}
		xg_handle_exit(v, b, sizeof(b), 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char cfgtext[] = "guests:\n  g:\n    policy: p.lua\n"
				      "    limits: { memory: 2M }\n";
	struct xg_error err;
	xg_config *cfg;
	xg_engine *e;
	FILE *f;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/xg-fuzz-policy-%d", (int)getpid());
		if (mkdir(dir, 0700) && access(dir, W_OK))
			abort();
		snprintf(path, sizeof(path), "%s/p.lua", dir);
		devnull = fopen("/dev/null", "w");
	}
	f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);

	xg_policy_check(path, devnull);

	cfg = xg_config_parse(cfgtext, sizeof(cfgtext) - 1, "fuzz.yaml", dir, &err);
	if (!cfg)
		abort();
	e = xg_engine_new(cfg, &err);
	xg_config_free(cfg);
	if (e) {
		xg_vcpu *v;
		xg_engine_set_log(e, quiet, NULL);
		v = xg_vcpu_attach(e, "g", 0, &ops, NULL, &err);
		if (v) {
			run_exits(v);
			run_exits(v);
			xg_vcpu_detach(v);
		}
		xg_engine_free(e);
	}
	return 0;
}
