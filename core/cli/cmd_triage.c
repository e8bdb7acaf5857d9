/*
 * cmd_triage.c - `exitgate triage`: what a VMM or the kernel printed when a KVM guest
 * stopped (QEMU, Firecracker, cloud-hypervisor, crosvm, kvmtool, dmesg ...), read and
 * explained, one block per vCPU, as text or JSON (core/triage).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "triage/triage.h"

static const char usage_text[] =
    "usage: exitgate triage [--json] [FILE | -]\n"
    "\n"
    "Reads what a VMM or the kernel printed when a KVM guest stopped and says what happened:\n"
    "QEMU's \"KVM internal error. Suberror: N\" blocks (every format: extra data[i], the old\n"
    "bare hex, qemu-kvm's lowercase dump), its register dumps and Code= line, \"KVM: entry\n"
    "failed, hardware error 0x...\", arm64 \"kvm run failed ...\", Firecracker,\n"
    "cloud-hypervisor, crosvm, kvmtool, dosemu2 and km messages, dmesg KVM lines and kvm_exit\n"
    "traces. Paste it as it is: mail quoting, wrapped lines, timestamps, prompts and several\n"
    "vCPUs interleaved are fine. With no FILE, or '-', it reads stdin.\n"
    "\n"
    "For every vCPU block it names the exit and suberror, decodes the hardware exit reason\n"
    "and its qualification, the CPU mode, the instruction at the Code= marker (in that mode),\n"
    "the guest physical region, anomalies, and gives a verdict with what exitgate's default\n"
    "policy would have done.\n"
    "\n"
    "  --json   one JSON array, an object per vCPU block\n"
    "\n"
    "Exit status: 0 at least one block was read, 1 none was found (the reason is printed),\n"
    "2 usage or input error.\n";

int xg_cmd_triage(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct xg_error err = {{0}};
	const char *path = "-";
	uint8_t *in = NULL;
	size_t len = 0;
	int json = 0, c, rc;
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
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "exitgate triage: give one input: a FILE or '-'\n");
		return 2;
	}
	if (xg_cli_read_all(path, &in, &len, &err)) {
		fprintf(stderr, "exitgate triage: %s\n", err.msg);
		return 2;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		fprintf(stderr, "exitgate triage: out of memory\n");
		free(in);
		return 2;
	}
	xg_triage_parse((const char *)in, len, t);
	if (!t->nblocks) {
		fprintf(stderr, "exitgate triage: %s: %s\n", strcmp(path, "-") ? path : "stdin",
			t->why);
		if (json)
			fputs("[]\n", stdout);
		rc = 1;
	} else {
		if (json)
			xg_triage_print_json(t, stdout);
		else
			xg_triage_print_text(t, strcmp(path, "-") ? path : "stdin", stdout);
		rc = fflush(stdout) ? 2 : 0;
	}
	free(t);
	free(in);
	return rc;
}
