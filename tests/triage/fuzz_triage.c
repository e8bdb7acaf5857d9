/*
 * fuzz_triage.c - libFuzzer target over `exitgate triage` (core/triage): the parser, the
 * deriver and both renderers, on any bytes. A crash, a sanitizer report, a hang or a bloat
 * is a finding (libFuzzer's -timeout and -rss_limit_mb catch the last two); so is a broken
 * promise, which aborts:
 *   - never more blocks than XG_TRIAGE_MAX_BLOCKS, never more data words, code bytes or
 *     items than their arrays hold; a marker inside the code bytes or -1;
 *   - no blocks only with a reason for a person (why is not empty);
 *   - the JSON is one array whose brackets and quotes balance;
 *   - the same bytes read as one of exitgate's dumps (`exitgate show`) give one block or a
 *     message, never anything else.
 * Build: see t_fuzz_triage.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitgate.h"
#include "triage/triage.h"

static struct xg_triage t;

static void check(int cond)
{
	if (!cond)
		abort();
}

/* Brackets and braces balance outside strings, strings close. */
static void balanced(const char *s, size_t n)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			else
				check((unsigned char)c >= 0x20);
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '[' || c == '{')
			depth++;
		else if (c == ']' || c == '}')
			check(--depth >= 0);
	}
	check(depth == 0 && !in_str);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	xg_triage_parse((const char *)data, size, &t);
	check(t.nblocks >= 0 && t.nblocks <= XG_TRIAGE_MAX_BLOCKS);
	if (!t.nblocks)
		check(t.why[0] != 0);
	for (int i = 0; i < t.nblocks; i++) {
		const struct xg_tri_block *b = &t.b[i];
		check(b->ndata >= 0 && b->ndata <= XG_TRIAGE_MAX_DATA);
		check(b->ncode >= 0 && b->ncode <= XG_TRIAGE_MAX_CODE);
		check(b->marker >= -1 && b->marker < XG_TRIAGE_MAX_CODE);
		check(b->nitems >= 0 && b->nitems <= XG_TRIAGE_MAX_ITEMS);
		check(b->first_line <= b->last_line);
	}
	f = open_memstream(&buf, &len);
	check(f != NULL);
	xg_triage_print_json(&t, f);
	xg_triage_print_text(&t, "fuzz", f);
	fclose(f);
	/* the JSON is what comes before the text: the first "\n]\n" ends it */
	char *end = strstr(buf, "\n]\n");
	check(end != NULL);
	balanced(buf, (size_t)(end + 3 - buf));
	free(buf);

	struct xg_tri_dump_info info;
	struct xg_error err = {{0}};
	if (xg_triage_from_dump((const char *)data, size, &t, &info, &err))
		check(err.msg[0] != 0 && t.nblocks == 0);
	else
		check(t.nblocks == 1 && t.b[0].ncode <= XG_TRIAGE_MAX_CODE &&
		      t.b[0].marker < t.b[0].ncode && t.b[0].ndata <= XG_TRIAGE_MAX_DATA);
	f = open_memstream(&buf, &len);
	check(f != NULL);
	xg_triage_print_json(&t, f);
	xg_triage_print_text(&t, "dump", f);
	fclose(f);
	free(buf);
	return 0;
}
