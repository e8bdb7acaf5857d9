/* cmd_run.c - `exitgate run`: the mini-VMM (core/backend/kvm/vmm.c). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/kvm/vmm.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: exitgate run [options] CONFIG.yaml [GUEST...]\n"
		"\n"
		"Runs every guest of CONFIG that has a vm: section (or the GUESTs named) on\n"
		"/dev/kvm, each under its policy. Guest console output goes to stdout as\n"
		"\"GUEST| line\"; a summary per guest goes to stderr at the end.\n"
		"\n"
		"  --ctl PATH         control socket for `exitgate ctl` (default:\n"
		"                     $XDG_RUNTIME_DIR or /tmp, exitgate-PID.sock)\n"
		"  --stats FILE       write the summary as JSON\n"
		"  --stats -          the same JSON on stdout, after the guests' lines\n"
		"  --timeout SECONDS  stop every guest after this long (status 124)\n"
		"  --watch            reload policies when their files change\n"
		"  --quiet            no summary (and no status line)\n"
		"  --no-progress      no status line on a terminal (stderr a tty: exits,\n"
		"                     exits/s, verdicts and failures, redrawn every second)\n"
		"  --log-format FMT   text (the default) or json: each line on stderr one\n"
		"                     JSON object (time, kind, guest, vcpu, message)\n"
		"  --paused, -S       start with every vCPU paused until `exitgate ctl\n"
		"                     SOCKET resume` (time limits run meanwhile)\n"
		"  --metrics FILE     the counters in Prometheus text format, rewritten\n"
		"                     atomically every 5 s and at the end\n"
		"  --record FILE      record every exit handed to a policy, with the vCPU\n"
		"                     state it read and its verdict, for `exitgate replay`\n"
		"  --record-max SIZE  stop recording (the guests run on) before FILE passes\n"
		"                     SIZE bytes (K, M, G suffixes; default 1G; 0: no cap)\n"
		"\n"
		"SIGHUP reloads the configuration and policies (with or without --watch).\n"
		"SIGTERM or SIGINT stops every guest (status 3), or the setup at the next vCPU\n"
		"while the run is still setting up (no guest runs). When every guest was told to\n"
		"stop (signal, timeout, ctl, policy), a vCPU that has not ended 2 s later (in\n"
		"a policy call that does not return) is named in the summary and left behind.\n"
		"\n"
		"Exit status (with several guests, the highest one's; the summary ends with\n"
		"\"exitgate: status N: meaning\"):\n"
		"    0  every guest wrote done code 0, or halted\n"
		"    1  a guest reported failure: it wrote a non-zero code to the done port\n"
		"       (the code is in the summary and in --stats, never the status)\n"
		"    2  the run could not start (usage, config, payload, /dev/kvm)\n"
		"    3  a guest was stopped (policy, exitgate ctl, exit storm, signal)\n"
		"    4  a guest shut down (triple fault) and the policy did not stop it\n"
		"  124  a time limit (--timeout, vm.timeout)\n"
		"  125  a vCPU failed: KVM failed, or no verdict could be carried out\n");
}

/* "64M" -> 64 << 20; 0 or a size of at least 4096 */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || (v && (v > (~0ull >> shift) || (v << shift) < 4096)))
		return -1;
	*out = v << shift;
	return 0;
}

int xg_cmd_run(int argc, char **argv)
{
	struct xg_vmm_opts o = {.record_max = 1ull << 30};
	const char **only = calloc((size_t)argc, sizeof(*only));
	int rc;

	if (!only)
		return XG_RUN_SETUP;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			free(only);
			return 0;
		} else if ((!strcmp(a, "--ctl") || !strcmp(a, "--stats") ||
			    !strcmp(a, "--timeout")) &&
			   i + 1 < argc) {
			const char *v = argv[++i];
			if (a[2] == 'c')
				o.ctl_path = v;
			else if (a[2] == 's')
				o.stats_path = v;
			else {
				char *end;
				o.timeout = strtod(v, &end);
				/* NaN compares false with everything: refuse it and inf */
				if (*end || !(o.timeout > 0) || !isfinite(o.timeout)) {
					fprintf(stderr,
						"exitgate run: --timeout takes seconds (> 0), not "
						"'%s'\n",
						v);
					free(only);
					return XG_RUN_SETUP;
				}
			}
		} else if (!strcmp(a, "--metrics") && i + 1 < argc) {
			o.metrics_path = argv[++i];
		} else if (!strcmp(a, "--record") && i + 1 < argc) {
			o.record_path = argv[++i];
		} else if (!strcmp(a, "--record-max") && i + 1 < argc) {
			if (parse_size(argv[++i], &o.record_max)) {
				fprintf(stderr,
					"exitgate run: --record-max takes a size in bytes (4096 or "
					"more, K, M or G suffix, or 0 for no cap), not '%s'\n",
					argv[i]);
				free(only);
				return XG_RUN_SETUP;
			}
		} else if (!strcmp(a, "--log-format") && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(v, "text") && strcmp(v, "json")) {
				fprintf(stderr,
					"exitgate run: --log-format takes text or json, not '%s'\n",
					v);
				free(only);
				return XG_RUN_SETUP;
			}
			o.log_json = !strcmp(v, "json");
		} else if (!strcmp(a, "--paused") || !strcmp(a, "-S")) {
			o.paused = 1;
		} else if (!strcmp(a, "--no-progress")) {
			o.no_progress = 1;
		} else if (!strcmp(a, "--watch")) {
			o.watch = 1;
		} else if (!strcmp(a, "--quiet")) {
			o.quiet = 1;
		} else if (a[0] == '-') {
			fprintf(stderr, "exitgate run: unknown option '%s' (or it lacks its value)\n\n",
				a);
			usage(stderr);
			free(only);
			return XG_RUN_SETUP;
		} else if (!o.config) {
			o.config = a;
		} else {
			only[o.nonly++] = a;
		}
	}
	if (!o.config) {
		usage(stderr);
		free(only);
		return XG_RUN_SETUP;
	}
	o.only = only;
	rc = xg_vmm_run(&o);
	free(only);
	return rc;
}
