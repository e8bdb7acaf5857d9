/* main.c - `exitgate`: dispatch to the builtin named by the first argument. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct xg_cli_cmd cmds[] = {
	{"decode", xg_cmd_decode, "decode a raw kvm_run (file, hex or stdin) into named fields"},
	{"check", xg_cmd_check, "check a policy or a configuration without a guest"},
	{"test", xg_cmd_test, "run policy tests (Lua files feeding exits to a policy), TAP out"},
	{"run", xg_cmd_run, "run the guests of a configuration on /dev/kvm under their policies"},
	{"ctl", xg_cmd_ctl, "talk to a running `exitgate run`: status, resume, stop, dump, reload"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: exitgate COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n`exitgate COMMAND --help` tells more.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("exitgate %s\n", XG_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "exitgate: '%s' is not a command.\n\n", argv[1]);
	usage(stderr);
	return 2;
}
