/*
 * metrics.c - the run's counters in the Prometheus text exposition format (Prometheus
 * docs, "Exposition formats", text-based format 0.0.4): `exitgate run --metrics FILE`
 * (rewritten atomically every XG_METRICS_PERIOD seconds and at the end) and `exitgate ctl
 * SOCKET metrics`. The numbers are the ones --stats gives at the end of the run: KVM exits
 * by reason, and per guest the engine's exits, verdicts, cache, Lua calls, policy failures
 * by kind, dumps, reloads and swaps, and the time spent in Lua.
 *
 * Each family is written once, with its HELP and TYPE lines, all guests' samples under
 * it (the format requires a family's samples to be contiguous). Label values escape
 * backslash, double quote and newline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

struct gc {
	const char *name;
	uint64_t by[XG_VMM_NREASONS + 1];
	struct xg_stats s;
};

static void label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP exitgate_%s %s\n# TYPE exitgate_%s counter\n", name, help, name);
}

static void sample(FILE *f, const char *name, const char *guest, const char *k, const char *v,
		   uint64_t n)
{
	fprintf(f, "exitgate_%s{guest=\"", name);
	label(f, guest);
	if (k) {
		fprintf(f, "\",%s=\"", k);
		label(f, v);
	}
	fprintf(f, "\"} %llu\n", (unsigned long long)n);
}

/* The engine's counters that are one number per guest: name, help, offset in xg_stats. */
static const struct {
	const char *name, *help;
	size_t off;
} scalars[] = {
    {"engine_exits_total", "Exits handed to the policy engine.", offsetof(struct xg_stats, exits)},
    {"lua_calls_total", "Policy handler calls (Lua).", offsetof(struct xg_stats, lua_calls)},
    {"cache_hits_total", "Exits answered by the verdict cache, without Lua.",
     offsetof(struct xg_stats, cache_hits)},
    {"cache_misses_total", "Verdict cache lookups that missed.",
     offsetof(struct xg_stats, cache_misses)},
    {"emulated_total", "Instructions exitgate's x86 emulator carried out.",
     offsetof(struct xg_stats, emulated)},
    {"emulated_memo_total", "Of those, repeats run by the emulator's memo (the short path).",
     offsetof(struct xg_stats, emulated_memo)},
    {"dumps_total", "Triage dumps written or logged.", offsetof(struct xg_stats, dumps)},
    {"reloads_total", "Policy reloads that succeeded.", offsetof(struct xg_stats, reloads)},
    {"reload_failures_total", "Policy reloads that failed (the old policy kept running).",
     offsetof(struct xg_stats, reload_failures)},
    {"swaps_total", "vCPUs that swapped to a reloaded policy.", offsetof(struct xg_stats, swaps)},
};

int xg_metrics_print(struct xg_vmm *m, FILE *f)
{
	int ng = 0;
	struct gc *g;

	while (!xg_vmm_counters(m, ng, NULL, NULL, NULL))
		ng++;
	g = calloc(ng ? (size_t)ng : 1, sizeof(*g));
	if (!g)
		return -1;
	for (int i = 0; i < ng; i++)
		xg_vmm_counters(m, i, &g[i].name, g[i].by, &g[i].s);

	family(f, "exits_total", "Exits KVM_RUN returned, by exit reason.");
	for (int i = 0; i < ng; i++)
		for (int r = 0; r <= XG_VMM_NREASONS; r++)
			if (g[i].by[r])
				sample(f, "exits_total", g[i].name, "reason",
				       r < XG_VMM_NREASONS && xg_exit_reason_name((uint32_t)r)
					   ? xg_exit_reason_name((uint32_t)r)
					   : "other",
				       g[i].by[r]);
	for (size_t k = 0; k < sizeof(scalars) / sizeof(scalars[0]); k++) {
		family(f, scalars[k].name, scalars[k].help);
		for (int i = 0; i < ng; i++) {
			uint64_t v;
			memcpy(&v, (const char *)&g[i].s + scalars[k].off, sizeof(v));
			sample(f, scalars[k].name, g[i].name, NULL, NULL, v);
		}
	}
	/* seconds as a float counter (Prometheus naming: base units, _seconds_total) */
	family(f, "lua_seconds_total", "Time spent in policy handler calls (Lua), in seconds.");
	for (int i = 0; i < ng; i++) {
		fprintf(f, "exitgate_lua_seconds_total{guest=\"");
		label(f, g[i].name);
		fprintf(f, "\"} %.9f\n", (double)g[i].s.lua_ns / 1e9);
	}
	family(f, "verdicts_total", "Verdicts applied, by kind (on_error's when a policy failed).");
	for (int i = 0; i < ng; i++)
		for (int k = 1; k < XG_VERDICT_COUNT; k++)
			sample(f, "verdicts_total", g[i].name, "verdict",
			       xg_verdict_name((enum xg_verdict_kind)k), g[i].s.verdicts[k]);
	family(f, "policy_failures_total",
	       "Policy calls without a usable verdict, by kind (on_error applied).");
	for (int i = 0; i < ng; i++)
		for (int k = 1; k < XG_FAIL_COUNT; k++)
			sample(f, "policy_failures_total", g[i].name, "kind",
			       xg_fail_name((enum xg_fail)k), g[i].s.fails[k]);
	free(g);
	return ferror(f) ? -1 : 0;
}

int xg_metrics_file(struct xg_vmm *m, const char *path, char *why, size_t n)
{
	char tmp[1100];
	FILE *f;

	/* written beside it and renamed over it: a reader (node_exporter's textfile
	 * collector) sees the old file or the new one, never half of one */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		snprintf(why, n, "cannot write the metrics to %s: %s", tmp, strerror(errno));
		return -1;
	}
	errno = 0;
	if (xg_metrics_print(m, f) | fclose(f) || rename(tmp, path)) {
		snprintf(why, n, "cannot write the metrics to %s: %s", path,
			 errno ? strerror(errno) : "out of memory");
		unlink(tmp);
		return -1;
	}
	return 0;
}
