/*
 * json_get.h - reads JSON back inside the pmem lane (no perl, no libraries there): a strict
 * parser of RFC 8259 text that checks the whole document and gives the value at a path of
 * object keys, "exit.kind", as its text (a string's contents with the simple escapes
 * undone; a number, true, false or null as written; an object or array as its source).
 * Header-only: each lane program is one .c file plus tests/tap.c.
 */
#ifndef XG_JSON_GET_H
#define XG_JSON_GET_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct jg {
	const char *p;
	const char *path; /* what is left of the path at this depth; NULL: not on it */
	char *out;
	size_t n;
	int found, depth;
};

static void jg_ws(struct jg *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static void jg_put(struct jg *j, const char *s, size_t len)
{
	if (len >= j->n)
		len = j->n - 1;
	memcpy(j->out, s, len);
	j->out[len] = 0;
	j->found = 1;
}

/* A string at j->p ('"'); its contents (escapes undone, \u as '?') into buf when given. */
static int jg_string(struct jg *j, char *buf, size_t n)
{
	size_t len = 0;

	if (*j->p++ != '"')
		return -1;
	for (;;) {
		char c = *j->p++;
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20)
			return -1; /* a control character, or the end of the text */
		if (c == '\\') {
			c = *j->p++;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				for (int i = 0; i < 4; i++, j->p++)
					if (!*j->p || !strchr("0123456789abcdefABCDEF", *j->p))
						return -1;
				c = '?';
				break;
			default:
				return -1;
			}
		}
		if (buf && len + 1 < n)
			buf[len++] = c;
	}
	if (buf && n)
		buf[len] = 0;
	return 0;
}

static int jg_value(struct jg *j, const char *path);

/* The key of a path's first component matches key: "exit.kind" matches "exit". */
static const char *jg_step(const char *path, const char *key)
{
	size_t k = strlen(key);

	if (!path || strncmp(path, key, k) || (path[k] && path[k] != '.'))
		return NULL;
	return path[k] ? path + k + 1 : "";
}

static int jg_value(struct jg *j, const char *path)
{
	const char *start;
	char key[128];

	if (++j->depth > 64)
		return -1;
	jg_ws(j);
	start = j->p;
	if (*j->p == '{' || *j->p == '[') {
		char close = *j->p == '{' ? '}' : ']';
		int obj = close == '}';
		j->p++;
		jg_ws(j);
		if (*j->p != close)
			for (;;) {
				const char *sub = NULL;
				jg_ws(j);
				if (obj) {
					if (jg_string(j, key, sizeof(key)))
						return -1;
					jg_ws(j);
					if (*j->p++ != ':')
						return -1;
					sub = path && *path ? jg_step(path, key) : NULL;
				}
				if (jg_value(j, sub))
					return -1;
				jg_ws(j);
				if (*j->p == ',') {
					j->p++;
					continue;
				}
				break;
			}
		if (*j->p++ != close)
			return -1;
		if (path && !*path)
			jg_put(j, start, (size_t)(j->p - start));
	} else if (*j->p == '"') {
		if (path && !*path) {
			if (jg_string(j, j->out, j->n))
				return -1;
			j->found = 1;
		} else if (jg_string(j, NULL, 0))
			return -1;
	} else {
		static const char *const words[] = {"true", "false", "null"};
		size_t w;
		for (w = 0; w < 3; w++)
			if (!strncmp(j->p, words[w], strlen(words[w]))) {
				j->p += strlen(words[w]);
				break;
			}
		if (w == 3) { /* a number: -?int frac? exp? */
			if (*j->p == '-')
				j->p++;
			if (*j->p == '0')
				j->p++;
			else if (*j->p >= '1' && *j->p <= '9')
				while (*j->p >= '0' && *j->p <= '9')
					j->p++;
			else
				return -1;
			if (*j->p == '.') {
				j->p++;
				if (*j->p < '0' || *j->p > '9')
					return -1;
				while (*j->p >= '0' && *j->p <= '9')
					j->p++;
			}
			if (*j->p == 'e' || *j->p == 'E') {
				j->p++;
				if (*j->p == '+' || *j->p == '-')
					j->p++;
				if (*j->p < '0' || *j->p > '9')
					return -1;
				while (*j->p >= '0' && *j->p <= '9')
					j->p++;
			}
		}
		if (path && !*path)
			jg_put(j, start, (size_t)(j->p - start));
	}
	j->depth--;
	return 0;
}

/*
 * The value at path (keys separated by '.'; "" for the whole document) of the JSON text doc
 * into out[0..n). 0 when the document is valid JSON and the path is there, -1 when it is not
 * JSON (out says "invalid JSON at offset N"), -2 when the path is not there.
 */
static inline int json_get(const char *doc, const char *path, char *out, size_t n)
{
	struct jg j = {.p = doc, .out = out, .n = n};
	int rc;

	out[0] = 0;
	rc = jg_value(&j, path);
	if (!rc) {
		jg_ws(&j);
		if (*j.p)
			rc = -1; /* something after the value */
	}
	if (rc) {
		snprintf(out, n, "invalid JSON at offset %ld", (long)(j.p - doc));
		return -1;
	}
	return j.found ? 0 : -2;
}

#endif
