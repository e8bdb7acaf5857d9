/* main.c - `exitgate`: dispatch to the builtin named by the first argument. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct xg_cli_cmd cmds[] = {
	{"decode", xg_cmd_decode, "decode a raw kvm_run (file, hex or stdin) into named fields"},
	{"triage", xg_cmd_triage, "read a VMM's or the kernel's KVM crash output and say what happened"},
	{"check", xg_cmd_check, "check a policy or a configuration without a guest"},
	{"test", xg_cmd_test, "run policy tests (Lua files feeding exits to a policy), TAP out"},
	{"run", xg_cmd_run, "run the guests of a configuration on /dev/kvm under their policies"},
	{"show", xg_cmd_show, "show one of exitgate's own dumps for a person (as triage reads crashes)"},
	{"replay", xg_cmd_replay, "feed the exits of a --record file to a policy, compare verdicts"},
	{"ctl", xg_cmd_ctl, "talk to a running `exitgate run`: status, resume, stop, dump, reload"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: exitgate COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n`exitgate COMMAND --help` (or `exitgate help COMMAND`) tells more;\n"
		   "`exitgate --version` prints the version. The manual: man exitgate,\n"
		   "man exitgate-policy.\n");
}

static int is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

static int is_version(const char *a)
{
	return !strcmp(a, "--version") || !strcmp(a, "-V");
}

static const struct xg_cli_cmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(name, cmds[i].name))
			return &cmds[i];
	return NULL;
}

/* Every command takes -h/--help and -V/--version as its first argument, the same way:
 * the command's own usage on stdout, or the version, with status 0. */
int main(int argc, char **argv)
{
	const struct xg_cli_cmd *c;
	char help[] = "--help";

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (is_help(argv[1]) || (!strcmp(argv[1], "help") && argc == 2)) {
		usage(stdout);
		return 0;
	}
	if (is_version(argv[1])) {
		printf("exitgate %s\n", XG_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		if (!(c = find(argv[2]))) {
			fprintf(stderr, "exitgate help: '%s' is not a command.\n\n", argv[2]);
			usage(stderr);
			return 2;
		}
		char *av[] = {argv[2], help, NULL};
		return c->run(2, av);
	}
	if (!(c = find(argv[1]))) {
		fprintf(stderr, "exitgate: '%s' is not a command.\n\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (argc > 2 && is_version(argv[2])) {
		printf("exitgate %s\n", XG_VERSION);
		return 0;
	}
	if (argc > 2 && is_help(argv[2]))
		argv[2] = help;
	return c->run(argc - 1, argv + 1);
}
