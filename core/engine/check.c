/*
 * check.c - `exitgate check`: everything that can be found wrong with a policy or a
 * configuration without a guest (see xg_policy_check in exitgate.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "engine/engine_int.h"
#include "exit/kvm_compat.h"

/* A zeroed kvm_run whose exit is of kind k (the reason that maps to it). */
static int synth(const char *k, uint8_t *run, size_t size)
{
	uint32_t reason;

	memset(run, 0, size);
	if (!strcmp(k, "emulation_failure")) {
		reason = 17;
		run[32] = 1;	/* suberror EMULATION */
		run[36] = 3;	/* ndata */
		run[40] = 1;	/* flags: instruction bytes valid */
		run[48] = 2;	/* insn_size */
		run[49] = 0x0f; /* ud2 */
		run[50] = 0x0b;
	} else {
		for (reason = 0; reason < XG_SLOT_REASONS; reason++) {
			const char *n = xg_exit_reason_name(reason);
			if (n && !strcmp(n, k))
				break;
		}
		if (!strcmp(k, "msr"))
			reason = 29;
		else if (!strcmp(k, "bus_lock"))
			reason = 33;
		if (reason >= XG_SLOT_REASONS)
			return -1;
	}
	memcpy(run + 8, &reason, 4);
	/* plausible values where zeros would make a correct handler fail */
	if (reason == 39) { /* memory_fault: flags PRIVATE, gpa, size */
		uint64_t w[3] = {8, 0x100000, 0x1000};
		memcpy(run + 32, w, sizeof(w));
	} else if (reason == 6) { /* mmio: phys_addr, data[8], len */
		uint64_t gpa = 0xfee00000;
		uint32_t len = 4;
		memcpy(run + 32, &gpa, 8);
		memcpy(run + 48, &len, 4);
	} else if (reason == 28) { /* arm_nisv: esr_iss, fault_ipa */
		uint64_t ipa = 0x9000000;
		memcpy(run + 40, &ipa, 8);
	} else if (reason == 2) { /* io: direction, size, port, count, data_offset */
		uint16_t port = 0x3f8;
		uint32_t count = 1;
		uint64_t off = 1024;
		run[33] = 1;
		memcpy(run + 34, &port, 2);
		memcpy(run + 36, &count, 4);
		memcpy(run + 40, &off, 8);
	}
	return 0;
}

static int check_guest(struct xg_engine *e, const struct xg_guest_cfg *g, FILE *out, int *warn)
{
	static const struct xg_vcpu_ops no_ops;
	struct xg_error err;
	struct xg_vcpu *v = xg_vcpu_attach(e, g->name, 0, &no_ops, NULL, &err);
	int errors = 0;
	_Alignas(8) uint8_t run[4096];

	if (!v) {
		fprintf(out, "error: %s\n", err.msg);
		return 1;
	}
	for (int s = 0; s < XG_SLOTS; s++) {
		const char *k;
		struct xg_exit x;
		struct xg_exit_opts o = {XG_ARCH_X86_64, XG_HW_VMX};
		struct xg_verdict vd;
		char msg[512];
		int shape;
		enum xg_fail f;

		if (v->ls->handlers[s] == LUA_NOREF)
			continue;
		if (s == XG_SLOT_DEFAULT)
			k = "unknown";
		else if (s == XG_SLOT_EMULATION)
			k = "emulation_failure";
		else if (s == XG_SLOT_UNKNOWN)
			continue;
		else
			k = xg_exit_reason_name((uint32_t)s);
		/* one check per handler: skip the second reason of msr (29/30) */
		if (s == 30)
			continue;
		if (synth(k, run, sizeof(run)))
			continue;
		if (s == 28 || s == 41)
			o.arch = XG_ARCH_ARM64;
		if (xg_exit_decode(&x, run, sizeof(run), &o, &err))
			continue;
		f = xg_lstate_call(v->ls, &x, &vd, &shape, msg, sizeof(msg));
		if (f == XG_FAIL_BAD_VERDICT || f == XG_FAIL_NO_VERDICT) {
			fprintf(out, "error: %s (on a synthetic %s exit)\n", msg, x.kind);
			errors++;
		} else if (f != XG_FAIL_NONE) {
			fprintf(out, "warning: %s (on a synthetic %s exit with zeroed fields)\n",
				msg, x.kind);
			++*warn;
		}
	}
	xg_vcpu_detach(v);
	return errors;
}

static void quiet(void *ud, const char *line)
{
	(void)ud;
	(void)line;
}

int xg_policy_check(const char *path, FILE *out)
{
	struct xg_error err;
	size_t l = strlen(path);
	int yaml =
	    (l > 5 && !strcmp(path + l - 5, ".yaml")) || (l > 4 && !strcmp(path + l - 4, ".yml"));
	struct xg_config *cfg =
	    yaml ? xg_config_load(path, &err) : xg_config_for_policy(path, &err);
	struct xg_engine *e;
	int errors = 0, warn = 0;

	if (!cfg) {
		fprintf(out, "error: %s\n", err.msg);
		return 1;
	}
	e = xg_engine_new(cfg, &err);
	if (!e) {
		fprintf(out, "error: %s\n", err.msg);
		xg_config_free(cfg);
		return 1;
	}
	xg_engine_set_log(e, quiet, NULL);
	for (size_t i = 0; i < cfg->n; i++)
		errors += check_guest(e, &e->cfg->guests[i], out, &warn);
	xg_engine_free(e);
	xg_config_free(cfg);
	return errors;
}
