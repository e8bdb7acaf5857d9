/*
 * bench_engine.c - ns per exit through the policy engine, against the bare cost of decoding
 * the exit (xg_exit_decode): the verdict cache fast path, a trivial Lua policy, and a policy
 * that reads the disassembly; then reload latency (API, and file change -> new policy
 * serving through inotify). Not part of the suite: run build/bench/bench_engine.
 * Targets (issue 3): cached < 50 ns over decode, trivial Lua < 500 ns over decode.
 */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitgate.h"

static int nop_emulate(void *o, const struct xg_exit *x)
{
	return 0;
}

static int nop_inject(void *o, unsigned v, int h, uint32_t c)
{
	return 0;
}

static const struct xg_vcpu_ops ops = {.emulate = nop_emulate, .inject_exception = nop_inject};

static void quiet(void *ud, const char *line)
{
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static _Alignas(8) uint8_t run[4096];
static char dir[64] = "/tmp/xg-bench-XXXXXX";

static void make_run(void)
{
	struct kvm_run *kr = (struct kvm_run *)run;

	kr->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	kr->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	kr->emulation_failure.ndata = 3;
	kr->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	kr->emulation_failure.insn_size = 2;
	memcpy(kr->emulation_failure.insn_bytes, "\xd9\x00", 2);
}

static const char *write_policy(const char *text)
{
	static char path[128], tmp[140];
	FILE *f;

	snprintf(path, sizeof(path), "%s/p.lua", dir);
	snprintf(tmp, sizeof(tmp), "%s/.p.lua.tmp", dir);
	f = fopen(tmp, "w");
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
	return path;
}

static double per_exit(xg_vcpu *v, int n)
{
	double t0;

	for (int i = 0; i < n / 10; i++)
		xg_handle_exit(v, run, sizeof(run), 0);
	t0 = now();
	for (int i = 0; i < n; i++)
		xg_handle_exit(v, run, sizeof(run), 0);
	return (now() - t0) / n;
}

static double bench_policy(const char *text, int n, int want_cached)
{
	struct xg_error err;
	xg_config *cfg = xg_config_for_policy(write_policy(text), &err);
	xg_engine *e = cfg ? xg_engine_new(cfg, &err) : NULL;
	xg_vcpu *v = e ? xg_vcpu_attach(e, "default", 0, &ops, NULL, &err) : NULL;
	struct xg_result r;
	double ns;

	if (!v) {
		fprintf(stderr, "bench_engine: %s\n", err.msg);
		exit(1);
	}
	xg_handle_exit(v, run, sizeof(run), 0);
	r = xg_handle_exit(v, run, sizeof(run), 0);
	if (r.fail || r.cached != want_cached) {
		fprintf(stderr, "bench_engine: unexpected result (fail %s, cached %d): %s\n",
			xg_fail_name(r.fail), r.cached, xg_vcpu_last_error(v));
		exit(1);
	}
	ns = per_exit(v, n);
	xg_vcpu_detach(v);
	xg_engine_free(e);
	xg_config_free(cfg);
	return ns;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000000;
	struct xg_exit_opts o = {XG_ARCH_X86_64, XG_HW_AUTO};
	struct xg_exit x;
	struct xg_error err;
	double t0, decode, cached, trivial, trivial_const, disasm;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make_run();
	o.hw = xg_hw_host();
	for (int i = 0; i < n / 10; i++)
		xg_exit_decode(&x, run, sizeof(run), &o, &err);
	t0 = now();
	for (int i = 0; i < n; i++)
		xg_exit_decode(&x, run, sizeof(run), &o, &err);
	decode = (now() - t0) / n;

	cached = bench_policy("local xg = require 'exitgate'\n"
			      "return { emulation_failure = function(e) return "
			      "xg.cache(xg.emulate(), 'insn') end }\n",
			      n, 1);
	trivial =
	    bench_policy("local xg = require 'exitgate'\n"
			 "return { emulation_failure = function(e) return xg.emulate() end }\n",
			 n, 0);
	trivial_const = bench_policy("local xg = require 'exitgate'\nlocal E = xg.emulate()\n"
				     "return { emulation_failure = function(e) return E end }\n",
				     n, 0);
	disasm = bench_policy("local xg = require 'exitgate'\n"
			      "return { emulation_failure = function(e)\n"
			      "  if e.disasm:find('fld', 1, true) then return xg.emulate() end\n"
			      "  return xg.inject 'UD'\nend }\n",
			      n / 10, 0);

	printf("exits: %d (disasm policy: %d); one emulation-failure exit (fld dword ptr [rax])\n",
	       n, n / 10);
	printf("%-34s %8.1f ns/exit\n", "decode only (xg_exit_decode)", decode);
	printf("%-34s %8.1f ns/exit  (+%.1f over decode; target < 50)\n", "cached verdict (no Lua)",
	       cached, cached - decode);
	printf("%-34s %8.1f ns/exit  (+%.1f over decode; target < 500)\n",
	       "trivial Lua: return xg.emulate()", trivial, trivial - decode);
	printf("%-34s %8.1f ns/exit  (+%.1f over decode)\n", "trivial Lua: return a constant",
	       trivial_const, trivial_const - decode);
	printf("%-34s %8.1f ns/exit  (+%.1f over decode)\n", "Lua reading e.disasm (capstone)",
	       disasm, disasm - decode);

	/* reload latency */
	{
		xg_config *cfg = xg_config_for_policy(
		    write_policy(
			"local xg = require 'exitgate'\n"
			"return { emulation_failure = function() return xg.emulate() end }\n"),
		    &err);
		xg_engine *e = xg_engine_new(cfg, &err);
		xg_vcpu *v = xg_vcpu_attach(e, "default", 0, &ops, NULL, &err);
		double api = 0, file = 0;
		int rounds = 10;

		for (int i = 0; i < rounds; i++) {
			t0 = now();
			xg_engine_reload(e, &err);
			xg_handle_exit(v, run, sizeof(run), 0); /* the swap */
			api += (now() - t0) / 1e6;
		}
		xg_engine_set_log(e, quiet, NULL);
		xg_engine_watch(e, 0, &err);
		for (int i = 0; i < rounds; i++) {
			const char *verdict = i % 2 ? "xg.emulate()" : "xg.inject 'UD'";
			enum xg_verdict_kind want = i % 2 ? XG_VERDICT_EMULATE : XG_VERDICT_INJECT;
			char text[256];
			snprintf(text, sizeof(text),
				 "local xg = require 'exitgate'\n"
				 "return { emulation_failure = function() return %s end }\n",
				 verdict);
			t0 = now();
			write_policy(text);
			while (xg_handle_exit(v, run, sizeof(run), 0).verdict != want)
				usleep(100);
			file += (now() - t0) / 1e6;
		}
		printf("%-34s %8.2f ms (API: compile, check, hand over, swap)\n", "reload latency",
		       api / rounds);
		printf("%-34s %8.2f ms (rename -> inotify -> new policy serving)\n",
		       "reload on file change", file / rounds);
		xg_vcpu_detach(v);
		xg_engine_free(e);
		xg_config_free(cfg);
	}
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd)) {
		}
	}
	return 0;
}
