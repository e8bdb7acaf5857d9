/*
 * cmd_decode.c - `exitgate decode`: a raw struct kvm_run (binary file, hex text in a file,
 * hex on the command line, or stdin) printed as named fields, as text or JSON.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "disasm/disasm.h"

static const char usage_text[] =
	"usage: exitgate decode [--arch ARCH] [--hw vmx|svm|none|auto] [--json] [FILE | -]\n"
	"       exitgate decode [options] --hex 'HEX BYTES'\n"
	"\n"
	"Decodes the bytes of a struct kvm_run, starting at its first byte (the header, then\n"
	"the exit union at byte 32). FILE is either the raw bytes or hex text (pairs of hex\n"
	"digits; whitespace ignored; # comments). With no FILE, or '-', it reads stdin.\n"
	"Input shorter than the 288-byte header+union is read as if zero-padded; empty input\n"
	"is an error. Hex text may say whose exit it is in a comment line of its own,\n"
	"'# arch: arm64' and '# hw: svm': --arch and --hw given on the command line win.\n"
	"\n"
	"  --arch ARCH   x86_64 (default here), arm64, riscv64, s390x, ppc64, loongarch64\n"
	"  --hw HW       which hardware names the x86 exit-information words: vmx (Intel),\n"
	"                svm (AMD), none; auto (default) asks this machine's CPU\n"
	"  --json        one JSON object instead of text\n";

static int looks_like_text(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != '\n' && b[i] != '\r' && b[i] != '\t' && (b[i] < 0x20 || b[i] >= 0x7f))
			return 0;
	return 1;
}

/* A "# arch: NAME" or "# hw: NAME" comment line of hex text (key is "arch" or "hw"): the
 * value, NUL-terminated in val, or 0 when the text has no such line. */
static int directive(const uint8_t *t, size_t n, const char *key, char *val, size_t vn)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < n;) {
		size_t e = i, j;
		while (e < n && t[e] != '\n')
			e++;
		j = i;
		while (j < e && (t[j] == ' ' || t[j] == '\t'))
			j++;
		if (j < e && t[j] == '#') {
			j++;
			while (j < e && (t[j] == ' ' || t[j] == '\t'))
				j++;
			if (e - j > kl && !memcmp(t + j, key, kl) && t[j + kl] == ':') {
				size_t k = 0;
				j += kl + 1;
				while (j < e && (t[j] == ' ' || t[j] == '\t'))
					j++;
				while (j < e && t[j] != ' ' && t[j] != '\t' && t[j] != '\r' &&
				       k + 1 < vn)
					val[k++] = (char)t[j++];
				val[k] = 0;
				return k > 0;
			}
		}
		i = e + 1;
	}
	return 0;
}

int xg_cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{"arch", required_argument, NULL, 'a'}, {"hw", required_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'j'},       {"hex", required_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	struct xg_exit_opts eo = {xg_arch_host(), XG_HW_AUTO};
	struct xg_error err = {{0}};
	const char *hex = NULL, *path = "-";
	uint8_t *in = NULL, *bytes = NULL;
	size_t in_len = 0, len = 0;
	int json = 0, c, rc = 2, arch_given = 0, hw_given = 0;
	struct xg_exit x;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (xg_arch_from_name(optarg, &eo.arch)) {
				fprintf(stderr, "exitgate decode: --arch %s: not one of x86_64, arm64, "
						"riscv64, s390x, ppc64, loongarch64\n", optarg);
				return 2;
			}
			arch_given = 1;
			break;
		case 'w':
			if (xg_hw_from_name(optarg, &eo.hw)) {
				fprintf(stderr, "exitgate decode: --hw %s: not one of vmx, svm, none, "
						"auto\n", optarg);
				return 2;
			}
			hw_given = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'x':
			hex = optarg;
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
	if (optind < argc || (hex && strcmp(path, "-"))) {
		fprintf(stderr, "exitgate decode: give one input: a FILE, '-' or --hex\n");
		return 2;
	}

	if (hex) {
		if (xg_cli_parse_hex(hex, strlen(hex), &bytes, &len, &err))
			goto fail;
	} else {
		if (xg_cli_read_all(path, &in, &in_len, &err))
			goto fail;
		if (in_len > 0 && looks_like_text(in, in_len)) {
			char val[32];
			if (xg_cli_parse_hex((const char *)in, in_len, &bytes, &len, &err)) {
				fprintf(stderr, "exitgate decode: %s:", path);
				goto fail;
			}
			if (!arch_given && directive(in, in_len, "arch", val, sizeof(val)) &&
			    xg_arch_from_name(val, &eo.arch)) {
				snprintf(err.msg, sizeof(err.msg),
					 "%s says '# arch: %s': not one of x86_64, arm64, riscv64, "
					 "s390x, ppc64, loongarch64",
					 path, val);
				goto fail;
			}
			if (!hw_given && directive(in, in_len, "hw", val, sizeof(val)) &&
			    xg_hw_from_name(val, &eo.hw)) {
				snprintf(err.msg, sizeof(err.msg),
					 "%s says '# hw: %s': not one of vmx, svm, none, auto", path,
					 val);
				goto fail;
			}
		} else {
			bytes = in;
			len = in_len;
			in = NULL;
		}
	}
	if (len == 0) {
		snprintf(err.msg, sizeof(err.msg),
			 "%s holds no bytes: give the bytes of a struct kvm_run (raw, or as hex)",
			 hex ? "--hex" : strcmp(path, "-") ? path : "standard input");
		goto fail;
	}
	if (len < XG_RUN_MIN_SIZE) {
		uint8_t *padded = calloc(1, XG_RUN_MIN_SIZE);
		if (!padded) {
			snprintf(err.msg, sizeof(err.msg), "out of memory");
			goto fail;
		}
		if (len < 8)
			fprintf(stderr, "exitgate decode: note: only %zu bytes: the exit reason "
					"(bytes 8..11) is not all there\n", len);
		else
			fprintf(stderr, "exitgate decode: note: %zu bytes given, the header and exit "
					"union are %d: the rest is read as zero\n", len, XG_RUN_MIN_SIZE);
		memcpy(padded, bytes, len);
		free(bytes);
		bytes = padded;
		len = XG_RUN_MIN_SIZE;
	}
	if (xg_exit_decode(&x, bytes, len, &eo, &err))
		goto fail;

	char text[160] = "";
	if (x.reason == 17 && x.u.internal.has_insn)
		xg_disasm_one(x.arch, x.u.internal.insn, x.u.internal.insn_size, 0, text,
			      sizeof(text));
	if (json) {
		xg_exit_print_json(&x, stdout);
	} else {
		xg_exit_print_text(&x, stdout);
		if (text[0])
			printf("%-33s%s\n", "disassembly:", text);
	}
	rc = fflush(stdout) ? 1 : 0;
	goto out;
fail:
	fprintf(stderr, "exitgate decode: %s\n", err.msg);
out:
	free(in);
	free(bytes);
	return rc;
}
