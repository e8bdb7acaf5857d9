/*
 * mkman.c - writes the EXIT KINDS section of exitgate-policy(7) from the field tables that
 * drive decoding, the Lua view, the text and the JSON (core/exit/fields.c), so the manual
 * cannot drift from what a policy reads.
 *
 * Which exit reasons use which table is found the way the decoder finds it: a kvm_run with
 * each exit reason (0-127), and each small value (0-7) of the union's first word (the
 * suberror of internal_error, the type of hyperv and system_event ...), is decoded for x86
 * and for arm64, and the table it chose is noted. Tables no such input reaches are listed
 * under the shape's own name.
 *
 * usage: mkman TEMPLATE OUT    (copies TEMPLATE to OUT, the EXIT KINDS at its marker line)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit/fields.h"

#define MAXR 128

struct use {
	const struct xg_fieldset *fs;
	uint8_t words[MAXR]; /* per reason: which values 0-7 of the union's first word reach it */
	char kinds[512];
	char reasons[512];
};

static struct use uses[2][XG_SHAPE_COUNT];
static const char *reason_name[MAXR]; /* KVM_EXIT_* name of each reason, found by probe() */

/* Whether w is one of the words of a ", "-separated list. */
static int has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || (p - list >= 2 && p[-2] == ',' && p[-1] == ' ')) &&
		    (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

static void add_word(char *list, size_t n, const char *w)
{
	if (!w[0] || has_word(list, w))
		return;
	if (list[0])
		strncat(list, ", ", n - strlen(list) - 1);
	strncat(list, w, n - strlen(list) - 1);
}

static const char *type_words(const struct xg_field *f)
{
	switch (f->type) {
	case XG_FT_U8:
	case XG_FT_U16:
	case XG_FT_U32:
	case XG_FT_U64:
		return "integer";
	case XG_FT_BOOL:
		return "boolean";
	case XG_FT_STR:
	case XG_FT_CHARS:
		return "string";
	case XG_FT_BYTES:
	case XG_FT_BYTESP:
		return "string of bytes";
	case XG_FT_U64S:
		return "array of integers";
	case XG_FT_OBJ:
		return "table";
	case XG_FT_FLAGS:
		return "integer (flags)";
	}
	return "?";
}

/* roff-escape: backslashes and a leading dot or quote */
static void put(FILE *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", o);
		else if (*s == '-')
			fputs("\\-", o);
		else
			fputc(*s, o);
	}
}

static void fields(FILE *o, const struct xg_fieldset *fs, const char *prefix)
{
	for (unsigned i = 0; i < fs->n; i++) {
		const struct xg_field *f = &fs->f[i];
		char name[160];

		snprintf(name, sizeof(name), "%s%s", prefix, f->name);
		fputs(".TP\n.B ", o);
		put(o, name);
		fputs("\n", o);
		put(o, type_words(f));
		if (f->when >= 0)
			fputs("; present only when it applies (nil otherwise)", o);
		if (f->type == XG_FT_FLAGS && f->aux) {
			const struct xg_flagset *fl = f->aux;
			int any = 0;
			for (unsigned b = 0; b < fl->nbits; b++) {
				if (!fl->names[b])
					continue;
				fprintf(o, "%s bit %u ", any ? "," : "; the names of its bits:", b);
				put(o, fl->names[b]);
				any = 1;
			}
		}
		if (f->ff & XG_FF_QUIET)
			fputs("; not in the text form of `exitgate decode` (in Lua and JSON)", o);
		fputs("\n", o);
		if (f->type == XG_FT_OBJ && f->aux) {
			char sub[200];
			snprintf(sub, sizeof(sub), "%s.", name);
			fields(o, f->aux, sub);
		}
	}
}

static void probe(void)
{
	static const enum xg_arch arches[2] = {XG_ARCH_X86_64, XG_ARCH_ARM64};
	static uint8_t run[XG_RUN_MIN_SIZE];

	for (int a = 0; a < 2; a++) {
		for (int s = 0; s < XG_SHAPE_COUNT; s++)
			uses[a][s].fs = xg_fields_for((enum xg_shape)s, arches[a]);
		for (uint32_t r = 0; r < MAXR; r++) {
			for (uint32_t w = 0; w < 8; w++) {
				struct xg_exit_opts eo = {arches[a], XG_HW_NONE};
				struct xg_error err;
				struct xg_exit x;

				memset(run, 0, sizeof(run));
				memcpy(run + 8, &r, 4);
				memcpy(run + XG_RUN_UNION_OFFSET, &w, 4);
				if (xg_exit_decode(&x, run, sizeof(run), &eo, &err) || !x.known)
					continue;
				for (int s = 0; s < XG_SHAPE_COUNT; s++) {
					if (uses[a][s].fs != x.fields)
						continue;
					add_word(uses[a][s].kinds, sizeof(uses[a][s].kinds), x.kind);
					uses[a][s].words[r] |= (uint8_t)(1u << w);
					reason_name[r] = x.name;
				}
			}
		}
	}
}

/* "hlt (5), hyperv (27) when the union's first word is 1 ..." */
static void reasons(struct use *u)
{
	for (uint32_t r = 0; r < MAXR; r++) {
		char rs[160];
		int n;

		if (!u->words[r])
			continue;
		n = snprintf(rs, sizeof(rs), "%s (%u)", reason_name[r], r);
		if (u->words[r] != 0xff) {
			n += snprintf(rs + n, sizeof(rs) - (size_t)n,
				      " when its first union word (subtype) is");
			for (unsigned w = 0; w < 8; w++)
				if (u->words[r] & (1u << w))
					n += snprintf(rs + n, sizeof(rs) - (size_t)n, " %u", w);
		}
		add_word(u->reasons, sizeof(u->reasons), rs);
	}
}

static void section(FILE *o)
{
	for (int s = 0; s < XG_SHAPE_COUNT; s++)
		for (int a = 0; a < 2; a++)
			reasons(&uses[a][s]);
	static const char *arch_words[2] = {"x86", "arm64 (and every other architecture)"};

	fputs(".SS Every exit\nThese fields come from the header of struct kvm_run and are in "
	      "every exit object, whatever its kind. On x86:\n",
	      o);
	fields(o, uses[0][0].fs->next, "");
	fputs(".PP\nOn arm64 and the other architectures the same, without cr8 and "
	      "apic_base.\n",
	      o);
	for (int s = 0; s < XG_SHAPE_COUNT; s++) {
		for (int a = 0; a < 2; a++) {
			struct use *u = &uses[a][s];
			/* the arm64 table repeats x86's fields: say it once, unless reached
			 * only on arm64 */
			if (a == 1 && uses[0][s].kinds[0])
				continue;
			if (a == 0 && !u->kinds[0] && uses[1][s].kinds[0])
				continue;
			if (!u->kinds[0] && !u->fs->n)
				continue; /* nothing reaches it and it adds no field */
			fputs(".SS ", o);
			put(o, u->kinds[0] ? u->kinds : u->fs->name);
			fputs("\n", o);
			if (u->reasons[0]) {
				fputs("Exit reasons: ", o);
				put(o, u->reasons);
				fprintf(o, "; decoded for %s.\n", a == 0 && uses[1][s].kinds[0]
								      ? "every architecture"
								      : arch_words[a]);
			} else {
				fputs("A variant of an exit above, chosen by a field of its "
				      "union.\n",
				      o);
			}
			if (!u->fs->n)
				fputs(".PP\nNo fields beyond those of every exit.\n", o);
			else
				fields(o, u->fs, "");
		}
	}
}

int main(int argc, char **argv)
{
	FILE *in, *out;
	char line[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: mkman TEMPLATE OUT\n");
		return 2;
	}
	probe();
	in = fopen(argv[1], "r");
	out = fopen(argv[2], "w");
	if (!in || !out) {
		perror("mkman");
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		if (!strcmp(line, ".\\\" mkman: the exit kinds go here\n"))
			section(out);
		else
			fputs(line, out);
	}
	fclose(in);
	return fclose(out) ? 1 : 0;
}
