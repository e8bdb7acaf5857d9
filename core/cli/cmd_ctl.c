/* cmd_ctl.c - `exitgate ctl SOCKET COMMAND [TARGET]`: talk to a running `exitgate run`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: exitgate ctl [--json] SOCKET COMMAND [TARGET]\n"
		   "\n"
		   "  status [T]    one line per vCPU: running, paused, suspended (why), ended\n"
		   "                (how); with --json one JSON object: per guest its counters\n"
		   "                as --stats has them, per vCPU its state and exits\n"
		   "  resume [T]    resume suspended (or --paused) vCPUs\n"
		   "  suspend [T]   park running vCPUs\n"
		   "  stop [T]      stop guests (the run ends with status 3)\n"
		   "  dump [T]      write a triage dump of each vCPU; prints the files\n"
		   "  reload        reload every policy (the old ones stay on failure)\n"
		   "  metrics       the run's counters, Prometheus text format (as --metrics)\n"
		   "\n"
		   "T is GUEST or GUEST/N; without it, every vCPU. Exit status: 0 done, 1 the\n"
		   "run answered with an error, 2 usage or no run at SOCKET.\n"
		   "\n"
		   "The run serves up to 64 connections at once; a command line must arrive\n"
		   "whole within 2 s of connecting and its answer be read within 2 s.\n");
}

int xg_cmd_ctl(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char line[512], buf[4096];
	int fd, n, rc = 0, json = 0, k = 1;
	FILE *in;

	/* --json anywhere: the rest are the positional words */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			argv[k++] = argv[i];
	argc = k;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3 || argc > 4) {
		usage(stderr);
		return 2;
	}
	{
		static const char *const known[] = {"status", "resume", "suspend", "stop", "dump",
						    "reload", "metrics"};
		size_t i;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(argv[2], known[i]))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			fprintf(stderr,
				"exitgate ctl: '%s' is not a command (status, resume, suspend, "
				"stop, dump, reload, metrics)\n",
				argv[2]);
			return 2;
		}
	}
	if (json && strcmp(argv[2], "status")) {
		fprintf(stderr,
			"exitgate ctl: --json is for status (metrics is Prometheus text)\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "exitgate ctl: socket path too long\n");
		return 2;
	}
	memcpy(a.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "exitgate ctl: no run answers at %s: %s\n", argv[1],
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	n = snprintf(line, sizeof(line), "%s%s%s%s\n", argv[2], json ? " --json" : "",
		     argc > 3 ? " " : "", argc > 3 ? argv[3] : "");
	/* MSG_NOSIGNAL: a run that dropped us is an error message, not a silent SIGPIPE */
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "exitgate ctl: %s: %s\n", argv[1], strerror(errno));
		close(fd);
		return 2;
	}
	shutdown(fd, SHUT_WR);
	in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		return 2;
	}
	rc = 2; /* until the run says ok or error */
	while (fgets(buf, sizeof(buf), in)) {
		if (!strcmp(buf, "ok\n")) {
			rc = rc == 1 ? 1 : 0;
			continue;
		}
		if (!strncmp(buf, "error: ", 7)) {
			fprintf(stderr, "exitgate ctl: %s", buf + 7);
			rc = 1;
			continue;
		}
		fputs(buf, stdout);
	}
	fclose(in);
	if (rc == 2)
		fprintf(stderr, "exitgate ctl: the run at %s closed without an answer\n", argv[1]);
	return rc;
}
