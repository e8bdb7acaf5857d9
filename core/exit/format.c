/*
 * format.c - text and JSON forms of a decoded exit, walking the same field tables as the
 * Lua form (fields.c). Text is for people (aligned "name: value" lines, nested objects
 * indented, flags with their names); JSON is for tools (numbers shown in hex in the text
 * form are "0x..." strings, so 64-bit values survive JavaScript-style parsers).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "exit/fields.h"
#include "exit/json.h"

struct out {
	FILE *f;
	int json;
	int first; /* JSON: no comma before the next member */
	const struct xg_exit *x;
};

static void flag_names(FILE *f, const struct xg_flagset *fs, uint64_t v)
{
	int any = 0;

	for (unsigned i = 0; i < 64; i++) {
		if (!(v >> i & 1))
			continue;
		const char *n = i < fs->nbits ? fs->names[i] : NULL;
		if (n)
			fprintf(f, "%s%s", any++ ? "," : "", n);
		else
			fprintf(f, "%sbit%u", any++ ? "," : "", i);
	}
}

static void walk(struct out *o, const struct xg_fieldset *fs, const void *base, int depth);

static void key(struct out *o, const char *name, int depth)
{
	if (o->json) {
		if (!o->first)
			fputc(',', o->f);
		o->first = 0;
		xg_json_str(o->f, name);
		fputc(':', o->f);
	} else {
		int pad = 32 - 2 * depth - (int)strlen(name);
		fprintf(o->f, "%*s%s:%*s", 2 * depth, "", name, pad > 1 ? pad : 1, "");
	}
}

static void obj_key(struct out *o, const char *name, int depth)
{
	if (o->json)
		key(o, name, depth);
	else
		fprintf(o->f, "%*s%s:\n", 2 * depth, "", name);
}

static void field(struct out *o, const struct xg_field *f, const void *base, int depth)
{
	const void *p = (const char *)base + f->off;
	FILE *out = o->f;

	if (!xg_field_present(f, base))
		return;
	if (!o->json && (f->ff & XG_FF_QUIET) && o->x->known)
		return;
	if (f->type == XG_FT_OBJ) {
		obj_key(o, f->name, depth);
		if (o->json) {
			fputc('{', out);
			o->first = 1;
		}
		walk(o, f->aux, p, depth + 1);
		if (o->json) {
			fputc('}', out);
			o->first = 0;
		}
		return;
	}
	key(o, f->name, depth);
	switch (f->type) {
	case XG_FT_STR:
	case XG_FT_CHARS: {
		const char *s = f->type == XG_FT_STR ? *(const char *const *)p : (const char *)p;
		if (o->json)
			xg_json_str(out, s);
		else
			fputs(s, out);
		break;
	}
	case XG_FT_BOOL:
		fputs(*(const uint8_t *)p ? "true" : "false", out);
		break;
	case XG_FT_FLAGS: {
		uint64_t v = xg_field_u64(f, base);
		if (o->json) {
			fprintf(out, "\"0x%" PRIx64 "\"", v);
		} else {
			fprintf(out, "0x%" PRIx64, v);
			if (v) {
				fputs(" (", out);
				flag_names(out, f->aux, v);
				fputc(')', out);
			}
		}
		break;
	}
	case XG_FT_BYTES:
	case XG_FT_BYTESP: {
		const uint8_t *b = f->type == XG_FT_BYTES ? p : *(const uint8_t *const *)p;
		size_t n = xg_field_len(f, base);
		if (o->json)
			fputc('"', out);
		for (size_t i = 0; i < n; i++)
			fprintf(out, o->json ? "%02x" : (i ? " %02x" : "%02x"), b[i]);
		if (o->json)
			fputc('"', out);
		else if (!n)
			fputs("(none)", out);
		break;
	}
	case XG_FT_U64S: {
		const uint64_t *v = p;
		size_t n = xg_field_len(f, base);
		fputc('[', out);
		for (size_t i = 0; i < n; i++)
			fprintf(out, o->json ? "%s\"0x%" PRIx64 "\"" : "%s%#" PRIx64, i ? ", " : "", v[i]);
		fputc(']', out);
		break;
	}
	default: {
		uint64_t v = xg_field_u64(f, base);
		if (f->ff & XG_FF_HEX)
			fprintf(out, o->json ? "\"0x%" PRIx64 "\"" : "0x%" PRIx64, v);
		else
			fprintf(out, "%" PRIu64, v);
	}
	}
	if (!o->json)
		fputc('\n', out);
}

static void walk(struct out *o, const struct xg_fieldset *fs, const void *base, int depth)
{
	if (fs->next)
		walk(o, fs->next, base, depth);
	for (unsigned i = 0; i < fs->n; i++)
		field(o, &fs->f[i], base, depth);
}

int xg_exit_print_text(const struct xg_exit *x, FILE *f)
{
	struct out o = {f, 0, 1, x};

	walk(&o, xg_exit_fields(x), x, 0);
	return ferror(f) ? -1 : 0;
}

int xg_exit_print_json(const struct xg_exit *x, FILE *f)
{
	struct out o = {f, 1, 1, x};

	fputc('{', f);
	walk(&o, xg_exit_fields(x), x, 0);
	fputs("}\n", f);
	return ferror(f) ? -1 : 0;
}
