/* hexin.c - reading exits from files, stdin or the command line (see cli.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int xg_cli_read_all(const char *path, uint8_t **buf, size_t *len, struct xg_error *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 4096, n = 0;
	uint8_t *b;

	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	b = malloc(cap);
	while (b) {
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		if (cap >= (64u << 20)) {
			snprintf(err->msg, sizeof(err->msg), "%s is larger than 64 MiB: not a kvm_run",
				 path);
			free(b);
			b = NULL;
			goto out;
		}
		uint8_t *nb = realloc(b, cap *= 2);
		if (!nb)
			free(b);
		b = nb;
	}
	if (!b)
		snprintf(err->msg, sizeof(err->msg), "out of memory reading %s", path);
	else if (ferror(f)) {
		snprintf(err->msg, sizeof(err->msg), "cannot read %s: %s", path, strerror(errno));
		free(b);
		b = NULL;
	}
out:
	if (f != stdin)
		fclose(f);
	*buf = b;
	*len = n;
	return b ? 0 : -1;
}

int xg_cli_parse_hex(const char *text, size_t len, uint8_t **out, size_t *out_len,
		     struct xg_error *err)
{
	uint8_t *b = malloc(len / 2 + 1);
	size_t n = 0, line = 1, col = 0;
	int hi = -1;

	if (!b) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		col++;
		if (c == '\n') {
			line++;
			col = 0;
		}
		if (c == '#') {
			while (i + 1 < len && text[i + 1] != '\n')
				i++;
			continue;
		}
		if (isspace(c) || c == ',' || c == ':')
			continue;
		if (c == '0' && hi < 0 && i + 1 < len && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
			i++;
			col++;
			continue;
		}
		if (!isxdigit(c)) {
			snprintf(err->msg, sizeof(err->msg),
				 "line %zu, column %zu: '%c' is not a hex digit (expected pairs of "
				 "hex digits; # starts a comment)",
				 line, col, isprint(c) ? c : '?');
			free(b);
			return -1;
		}
		int v = isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10);
		if (hi < 0) {
			hi = v;
		} else {
			b[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		snprintf(err->msg, sizeof(err->msg), "odd number of hex digits: the last byte is "
						     "half a byte");
		free(b);
		return -1;
	}
	*out = b;
	*out_len = n;
	return 0;
}
