/*
 * cmd_check.c - `exitgate check POLICY.lua|CONFIG.yaml...`: every problem that can be found
 * without a guest (see xg_policy_check in exitgate.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int xg_cmd_check(int argc, char **argv)
{
	int errors = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(
		    argc < 2 ? stderr : stdout,
		    "usage: exitgate check POLICY.lua|CONFIG.yaml...\n\n"
		    "Loads each policy (or each policy a configuration names) in the sandbox\n"
		    "and reports syntax errors, unknown handler names, load-time errors and\n"
		    "limits, configuration errors, and verdicts of the wrong shape returned for\n"
		    "synthetic exits of each handled kind. Exit status 1 if any error.\n");
		return argc < 2 ? 2 : 0;
	}
	for (int i = 1; i < argc; i++) {
		int n = xg_policy_check(argv[i], stdout);
		if (n)
			printf("%s: %d error%s\n", argv[i], n, n == 1 ? "" : "s");
		else
			printf("%s: ok\n", argv[i]);
		errors += n;
	}
	return errors ? 1 : 0;
}
