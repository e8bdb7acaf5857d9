/*
 * cmd_show.c - `exitgate show`: exitgate's own dumps (core/dump) for a person, through the
 * same derivation and renderer as `exitgate triage` (core/triage).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "exit/json.h"
#include "triage/triage.h"

static const char usage_text[] =
    "usage: exitgate show [--json] DUMP...\n"
    "\n"
    "Shows dumps `exitgate run` wrote (<dump_dir>/<guest>-<run>-vcpu<N>-<seq>.json) the way\n"
    "`exitgate triage` shows another VMM's crash: who wrote it and why (guest, vCPU, trigger,\n"
    "the handler and verdict, the policy's note), then the exit decoded from its kvm_run\n"
    "bytes, the CPU mode, the instruction at RIP in that mode and the code around it, the\n"
    "guest physical region, anomalies and a verdict.\n"
    "\n"
    "  --json   one JSON array, an object per dump (the keys of `exitgate triage --json`,\n"
    "           with \"dump\" holding the file, guest, vCPU, trigger, handler, verdict, note)\n"
    "\n"
    "Exit status: 0 every dump was shown, 2 a file could not be read or is not a dump.\n";

int xg_cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int json = 0, c, rc = 0, shown = 0;
	struct xg_triage *t;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "exitgate show: name at least one dump file\n\n%s", usage_text);
		return 2;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		fprintf(stderr, "exitgate show: out of memory\n");
		return 2;
	}
	if (json)
		fputs("[\n", stdout);
	for (int i = optind; i < argc; i++) {
		struct xg_error err = {{0}};
		struct xg_tri_dump_info info;
		uint8_t *in = NULL;
		size_t len = 0;

		if (xg_cli_read_all(argv[i], &in, &len, &err) ||
		    xg_triage_from_dump((const char *)in, len, t, &info, &err)) {
			fprintf(stderr, "exitgate show: %s: %s\n", argv[i], err.msg);
			free(in);
			rc = 2;
			continue;
		}
		free(in);
		if (json) {
			char *buf = NULL;
			size_t blen = 0;
			FILE *m = open_memstream(&buf, &blen);
			if (!m) {
				rc = 2;
				continue;
			}
			xg_triage_print_json(t, m);
			fclose(m);
			/* the one object of the array, with the dump's who and why added */
			char *o = strchr(buf, '{'), *end = strrchr(buf, '}');
			if (o && end) {
				printf("%s  {\n    \"dump\": {\"file\": ", shown ? ",\n" : "");
				xg_json_str(stdout, argv[i]);
				printf(", \"guest\": ");
				xg_json_str(stdout, info.guest);
				printf(", \"vcpu\": %d, \"seq\": %lld, \"trigger\": ", info.vcpu,
				       info.seq);
				xg_json_str(stdout, info.trigger);
				printf(", \"handler\": ");
				xg_json_str(stdout, info.handler);
				printf(", \"verdict\": ");
				xg_json_str(stdout, info.verdict);
				printf(", \"note\": ");
				xg_json_str(stdout, info.note);
				printf(", \"previous\": ");
				if (info.previous[0])
					xg_json_str(stdout, info.previous);
				else
					printf("null");
				printf("},\n%.*s", (int)(end + 1 - (o + 2)), o + 2);
				shown++;
			}
			free(buf);
		} else {
			printf(
			    "%s%s: %s vCPU %d dump #%lld, %s%s%s; trigger %s, verdict %s%s%s%s%s\n",
			    shown ? "\n" : "", argv[i], info.guest, info.vcpu, info.seq, info.time,
			    info.handler[0] ? ", by " : "", info.handler, info.trigger,
			    info.verdict[0] ? info.verdict : "none", info.note[0] ? "; note: " : "",
			    info.note, info.error[0] ? "; error: " : "", info.error);
			xg_triage_print_text(t, "  exit", stdout);
			fputs(info.details, stdout);
			shown++;
		}
	}
	if (json)
		fputs("\n]\n", stdout);
	free(t);
	if (fflush(stdout))
		rc = 2;
	return rc;
}
