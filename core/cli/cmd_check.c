/*
 * cmd_check.c - `exitgate check [--timeout S] POLICY.lua|CONFIG.yaml...`: every problem that
 * can be found without a guest (see xg_policy_check in exitgate.h).
 *
 * The files checked are untrusted: each one is checked in a child process, so that a
 * policy that trips a bug in the engine (a crash, a call that does not end) is reported as
 * an error of that file with what happened, instead of taking the command down or hanging
 * the person who ran it.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define XG_CHECK_TIMEOUT 60.0 /* seconds per file */

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Number of errors (capped at 100), or -1 with *why filled when the check did not end
 * by itself. */
static int check_file(const char *path, double timeout, char *why, size_t n)
{
	double until = mono() + timeout;
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) { /* no child: check in this process */
		int e = xg_policy_check(path, stdout);
		return e > 100 ? 100 : e;
	}
	if (pid == 0) {
		int e = xg_policy_check(path, stdout);
		fflush(stdout);
		fflush(stderr);
		_exit(e > 100 ? 100 : e);
	}
	for (;;) {
		pid_t r = waitpid(pid, &st, timeout > 0 ? WNOHANG : 0);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			snprintf(why, n, "lost the checking process: %s", strerror(errno));
			return -1;
		}
		if (timeout > 0 && mono() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			snprintf(why, n,
				 "the check did not finish in %g s and was stopped: a handler, its "
				 "verdict or the policy's top level does not end within the "
				 "sandbox's bounds (a policy that is only slow: raise --timeout)",
				 timeout);
			return -1;
		}
		if (r == 0) {
			struct timespec ts = {0, 5 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	if (WIFSIGNALED(st)) {
		snprintf(why, n,
			 "the check crashed (signal %d, %s): the policy trips a bug in exitgate; "
			 "do not run it, and report it",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int xg_cmd_check(int argc, char **argv)
{
	double timeout = XG_CHECK_TIMEOUT;
	int errors = 0, i = 1;

	if (argc > 2 && !strcmp(argv[1], "--timeout")) {
		char *end;
		timeout = strtod(argv[2], &end);
		if (*end || end == argv[2] || !(timeout >= 0) || !isfinite(timeout)) {
			fprintf(stderr,
				"exitgate check: --timeout takes seconds (0: none), not '%s'\n",
				argv[2]);
			return 2;
		}
		i = 3;
	}
	if (argc <= i || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
		fprintf(
		    argc <= i ? stderr : stdout,
		    "usage: exitgate check [--timeout SECONDS] POLICY.lua|CONFIG.yaml...\n\n"
		    "Loads each policy (or each policy a configuration names) in the sandbox\n"
		    "under its real limits and reports syntax errors, unknown handler names,\n"
		    "load-time errors and limits, configuration errors, payloads and dump\n"
		    "directories that cannot be found or made; then calls every handler with\n"
		    "synthetic exits of each kind it handles, with their edge values, and\n"
		    "reports runtime errors, limit hits, missing verdicts and verdicts of the\n"
		    "wrong shape or for the wrong exit, with the line of the handler's return.\n"
		    "Each file is checked in a child process stopped after --timeout seconds\n"
		    "(default %g). Exit status 1 if any error.\n",
		    XG_CHECK_TIMEOUT);
		return argc <= i ? 2 : 0;
	}
	for (; i < argc; i++) {
		char why[400];
		int n = check_file(argv[i], timeout, why, sizeof(why));
		if (n < 0) {
			printf("error: %s: %s\n", argv[i], why);
			n = 1;
		}
		if (n)
			printf("%s: %d error%s\n", argv[i], n, n == 1 ? "" : "s");
		else
			printf("%s: ok\n", argv[i]);
		fflush(stdout);
		errors += n;
	}
	return errors ? 1 : 0;
}
