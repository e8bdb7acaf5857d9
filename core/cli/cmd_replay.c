/* cmd_replay.c - `exitgate replay`: a record of `exitgate run --record` fed to a policy
 * offline (core/trace/replay.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "trace/trace.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: exitgate replay [options] RECORD\n"
		   "\n"
		   "Feeds the exits of RECORD (written by `exitgate run --record`) to a policy\n"
		   "offline, each on a stand-in vCPU that answers from the recorded state, and\n"
		   "compares every verdict (with what carrying it out did to the vCPU) with the\n"
		   "recorded one. Without --policy: the recorded configuration's policies, every\n"
		   "exit printed. With --policy: that policy for every guest, and only the exits\n"
		   "whose verdict differs (\"what would my new policy have done?\").\n"
		   "\n"
		   "  --policy FILE   the policy to replay under\n"
		   "  --all           print every exit, also with --policy\n"
		   "  --json          a JSON array, one object per exit, recorded and replayed\n"
		   "\n"
		   "Exit status: 0 every verdict as recorded, 1 some differ, 2 the record is\n"
		   "truncated or corrupt (the message names the byte offset), or the policy or\n"
		   "configuration cannot be loaded.\n");
}

int xg_cmd_replay(int argc, char **argv)
{
	struct xg_replay_opts o = {0};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--policy") && i + 1 < argc) {
			o.policy = argv[++i];
		} else if (!strcmp(a, "--json")) {
			o.json = 1;
		} else if (!strcmp(a, "--all")) {
			o.all = 1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr,
				"exitgate replay: unknown option '%s' (or it lacks its value)\n\n",
				a);
			usage(stderr);
			return 2;
		} else if (!o.path) {
			o.path = a;
		} else {
			fprintf(stderr,
				"exitgate replay: one record at a time ('%s' is a second)\n", a);
			return 2;
		}
	}
	if (!o.path) {
		usage(stderr);
		return 2;
	}
	return xg_replay(&o, stdout);
}
