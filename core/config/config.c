/* config.c - YAML configuration (see config.h). Uses libyaml's document API: the whole file is
 * small, and nodes keep their marks, so every message can name a line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config/config.h"

struct ctx {
	yaml_document_t *doc;
	struct xg_config *cfg;
	struct xg_error *err;
};

static int fail(struct ctx *c, yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, yaml_node_t *n, const char *fmt, ...)
{
	char m[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	snprintf(c->err->msg, sizeof(c->err->msg), "%s:%zu: %s", c->cfg->name,
		 n ? n->start_mark.line + 1 : 0, m);
	return -1;
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *scalar(yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *type_name(yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE    ? "a mapping"
	       : n->type == YAML_SEQUENCE_NODE ? "a list"
					       : "a scalar";
}

static int want_map(struct ctx *c, yaml_node_t *n, const char *key)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "'%s' must be a mapping (key: value lines), not %s", key,
			    type_name(n));
	return 0;
}

static int get_uint(struct ctx *c, yaml_node_t *n, const char *key, int sizes, uint64_t *out)
{
	const char *s = scalar(n);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return fail(c, n, "'%s' must be a number", key);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return fail(c, n, "'%s' must be a non-negative number, not '%s'", key, s);
	if (sizes && *end) {
		uint64_t mul = !strcasecmp(end, "k") || !strcasecmp(end, "kb")	 ? 1ull << 10
			       : !strcasecmp(end, "m") || !strcasecmp(end, "mb") ? 1ull << 20
			       : !strcasecmp(end, "g") || !strcasecmp(end, "gb") ? 1ull << 30
										 : 0;
		if (!mul)
			return fail(c, n, "'%s': unknown size suffix in '%s' (use K, M or G)", key,
				    s);
		v *= mul;
	} else if (*end) {
		return fail(c, n, "'%s' must be a number, not '%s'", key, s);
	}
	*out = v;
	return 0;
}

static int get_double(struct ctx *c, yaml_node_t *n, const char *key, double *out)
{
	const char *s = scalar(n);
	char *end;

	if (!s || !*s)
		return fail(c, n, "'%s' must be a number", key);
	*out = strtod(s, &end);
	if (*end || *out < 0)
		return fail(c, n, "'%s' must be a non-negative number, not '%s'", key, s);
	return 0;
}

static int get_str(struct ctx *c, yaml_node_t *n, const char *key, char **out)
{
	const char *s = scalar(n);

	if (!s)
		return fail(c, n, "'%s' must be a string, not %s", key, type_name(n));
	free(*out);
	*out = strdup(s);
	return 0;
}

static struct xg_param *param_from(yaml_document_t *d, yaml_node_t *n)
{
	struct xg_param *p = calloc(1, sizeof(*p)), **tail;

	if (!p)
		return NULL;
	if (n->type == YAML_SCALAR_NODE) {
		p->type = XG_PARAM_SCALAR;
		p->value = strdup((const char *)n->data.scalar.value);
		p->plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	} else if (n->type == YAML_SEQUENCE_NODE) {
		p->type = XG_PARAM_SEQ;
		tail = &p->child;
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			*tail = param_from(d, yaml_document_get_node(d, *i));
			if (*tail)
				tail = &(*tail)->next;
		}
	} else {
		p->type = XG_PARAM_MAP;
		tail = &p->child;
		for (yaml_node_pair_t *i = n->data.mapping.pairs.start;
		     i < n->data.mapping.pairs.top; i++) {
			yaml_node_t *k = yaml_document_get_node(d, i->key);
			*tail = param_from(d, yaml_document_get_node(d, i->value));
			if (*tail) {
				(*tail)->key = strdup(scalar(k) ? scalar(k) : "?");
				tail = &(*tail)->next;
			}
		}
	}
	return p;
}

static void param_free(struct xg_param *p)
{
	while (p) {
		struct xg_param *next = p->next;
		param_free(p->child);
		free(p->key);
		free(p->value);
		free(p);
		p = next;
	}
}

static int resolve_policy(struct ctx *c, yaml_node_t *n, struct xg_guest_cfg *g)
{
	const char *s = scalar(n);
	char *path;
	struct stat st;

	if (!s || !*s)
		return fail(c, n, "'policy' must be a file name");
	if (s[0] == '/' || !c->cfg->base_dir) {
		path = strdup(s);
	} else {
		size_t len = strlen(c->cfg->base_dir) + strlen(s) + 2;
		path = malloc(len);
		if (path)
			snprintf(path, len, "%s/%s", c->cfg->base_dir, s);
	}
	if (!path)
		return fail(c, n, "out of memory");
	errno = 0;
	if (stat(path, &st) || !S_ISREG(st.st_mode)) {
		fail(c, n, "policy '%s' of guest '%s': %s", path, g->name ? g->name : "defaults",
		     errno ? strerror(errno) : "not a regular file");
		free(path);
		return -1;
	}
	free(g->policy);
	g->policy = path;
	return 0;
}

/* One guest (or the defaults) mapping. */
static int parse_guest(struct ctx *c, yaml_node_t *m, struct xg_guest_cfg *g, int is_defaults)
{
	yaml_document_t *d = c->doc;

	if (want_map(c, m, is_defaults ? "defaults" : g->name))
		return -1;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(d, p->key);
		yaml_node_t *v = yaml_document_get_node(d, p->value);
		const char *k = scalar(kn);
		int rc = 0;

		if (!k)
			return fail(c, kn, "keys must be names");
		if (!strcmp(k, "policy")) {
			rc = resolve_policy(c, v, g);
		} else if (!strcmp(k, "params")) {
			param_free(g->params);
			g->params = param_from(d, v);
		} else if (!strcmp(k, "on_error")) {
			rc = get_str(c, v, k, &g->on_error);
		} else if (!strcmp(k, "dump_dir")) {
			rc = get_str(c, v, k, &g->dump_dir);
		} else if (!strcmp(k, "limits") || !strcmp(k, "rate_limit")) {
			int lim = !strcmp(k, "limits");
			if (want_map(c, v, k))
				return -1;
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
			     q < v->data.mapping.pairs.top && !rc; q++) {
				yaml_node_t *kk = yaml_document_get_node(d, q->key);
				yaml_node_t *vv = yaml_document_get_node(d, q->value);
				const char *s = scalar(kk) ? scalar(kk) : "?";
				if (lim && !strcmp(s, "instructions"))
					rc = get_uint(c, vv, s, 0, &g->instructions);
				else if (lim && !strcmp(s, "memory"))
					rc = get_uint(c, vv, s, 1, &g->memory);
				else if (!lim && !strcmp(s, "logs_per_second"))
					rc = get_double(c, vv, s, &g->logs_per_second);
				else if (!lim && !strcmp(s, "burst"))
					rc = get_double(c, vv, s, &g->burst);
				else
					rc = fail(c, kk, "unknown key '%s' in '%s' (known: %s)", s,
						  k,
						  lim ? "instructions, memory"
						      : "logs_per_second, burst");
			}
			if (!rc && lim && g->instructions == 0)
				rc = fail(c, v, "'instructions' must be at least 1");
			if (!rc && lim && g->memory < (256u << 10))
				rc = fail(c, v,
					  "'memory' must be at least 256K (Lua itself needs it)");
		} else {
			rc = fail(c, kn,
				  "unknown key '%s' in %s '%s' (known: policy, params, limits, "
				  "on_error, dump_dir, rate_limit)",
				  k, is_defaults ? "section" : "guest",
				  is_defaults ? "defaults" : g->name);
		}
		if (rc)
			return -1;
	}
	return 0;
}

static void guest_clear(struct xg_guest_cfg *g)
{
	free(g->name);
	free(g->policy);
	free(g->on_error);
	free(g->dump_dir);
	param_free(g->params);
	memset(g, 0, sizeof(*g));
}

static struct xg_param *param_copy(const struct xg_param *p)
{
	struct xg_param *h = NULL, **tail = &h;

	for (; p; p = p->next) {
		struct xg_param *n = calloc(1, sizeof(*n));
		if (!n)
			break;
		*n = *p;
		n->key = xstrdup(p->key);
		n->value = xstrdup(p->value);
		n->child = param_copy(p->child);
		n->next = NULL;
		*tail = n;
		tail = &n->next;
	}
	return h;
}

static void inherit(struct xg_guest_cfg *g, const struct xg_guest_cfg *d)
{
	g->policy = xstrdup(d->policy);
	g->params = param_copy(d->params);
	g->instructions = d->instructions;
	g->memory = d->memory;
	g->on_error = xstrdup(d->on_error);
	g->dump_dir = xstrdup(d->dump_dir);
	g->logs_per_second = d->logs_per_second;
	g->burst = d->burst;
}

static int parse_doc(struct ctx *c)
{
	yaml_document_t *d = c->doc;
	yaml_node_t *root = yaml_document_get_root_node(d), *guests = NULL, *defs = NULL;
	struct xg_config *cfg = c->cfg;

	if (!root)
		return fail(c, NULL, "empty configuration: it needs a 'guests' section");
	if (want_map(c, root, "the top level"))
		return -1;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(d, p->key);
		const char *k = scalar(kn) ? scalar(kn) : "?";
		if (!strcmp(k, "guests"))
			guests = yaml_document_get_node(d, p->value);
		else if (!strcmp(k, "defaults"))
			defs = yaml_document_get_node(d, p->value);
		else
			return fail(c, kn, "unknown top-level key '%s' (known: defaults, guests)",
				    k);
	}
	cfg->defaults.name = strdup("defaults");
	cfg->defaults.instructions = XG_DEFAULT_INSTRUCTIONS;
	cfg->defaults.memory = XG_DEFAULT_MEMORY;
	cfg->defaults.on_error = strdup(XG_DEFAULT_ON_ERROR);
	cfg->defaults.logs_per_second = 5;
	cfg->defaults.burst = 20;
	if (defs && parse_guest(c, defs, &cfg->defaults, 1))
		return -1;
	if (!guests)
		return fail(c, root, "no 'guests' section: name at least one guest and its policy");
	if (want_map(c, guests, "guests"))
		return -1;
	size_t n = (size_t)(guests->data.mapping.pairs.top - guests->data.mapping.pairs.start);
	cfg->guests = calloc(n ? n : 1, sizeof(*cfg->guests));
	if (!cfg->guests)
		return fail(c, guests, "out of memory");
	for (yaml_node_pair_t *p = guests->data.mapping.pairs.start;
	     p < guests->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(d, p->key);
		yaml_node_t *v = yaml_document_get_node(d, p->value);
		struct xg_guest_cfg *g = &cfg->guests[cfg->n];
		if (!scalar(kn) || !*scalar(kn))
			return fail(c, kn, "guest names must be strings");
		for (size_t i = 0; i < cfg->n; i++)
			if (!strcmp(cfg->guests[i].name, scalar(kn)))
				return fail(c, kn, "guest '%s' is defined twice", scalar(kn));
		cfg->n++;
		inherit(g, &cfg->defaults);
		g->name = strdup(scalar(kn));
		g->line = (int)kn->start_mark.line + 1;
		if (parse_guest(c, v, g, 0))
			return -1;
		if (!g->policy)
			return fail(c, kn, "guest '%s' has no 'policy' (and defaults has none)",
				    g->name);
	}
	return 0;
}

xg_config *xg_config_parse(const char *text, size_t len, const char *name, const char *base_dir,
			   struct xg_error *err)
{
	struct xg_config *cfg = calloc(1, sizeof(*cfg));
	yaml_parser_t parser;
	yaml_document_t doc;
	struct ctx c = {&doc, cfg, err};
	int rc = -1;

	if (!cfg) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	cfg->name = strdup(name ? name : "<config>");
	cfg->base_dir = xstrdup(base_dir);
	cfg->text = malloc(len + 1);
	if (cfg->text) {
		memcpy(cfg->text, text, len);
		cfg->text[len] = 0;
	}
	cfg->len = len;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		xg_config_free(cfg);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err->msg, sizeof(err->msg), "%s:%zu: YAML error: %s %s", cfg->name,
			 parser.problem_mark.line + 1, parser.problem ? parser.problem : "",
			 parser.context ? parser.context : "");
	} else {
		rc = parse_doc(&c);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (rc) {
		xg_config_free(cfg);
		return NULL;
	}
	return cfg;
}

xg_config *xg_config_load(const char *path, struct xg_error *err)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, *dir, *slash;
	size_t len = 0, cap = 0;
	struct xg_config *cfg;

	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "cannot open config %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 4096 > cap) {
			char *t = realloc(text, cap = cap * 2 + 8192);
			if (!t)
				break;
			text = t;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (!got)
			break;
	}
	fclose(f);
	if (!text) {
		snprintf(err->msg, sizeof(err->msg), "out of memory reading %s", path);
		return NULL;
	}
	dir = strdup(path);
	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = 0;
	cfg = xg_config_parse(text, len, path, slash ? dir : ".", err);
	free(text);
	free(dir);
	if (cfg)
		cfg->path = strdup(path);
	return cfg;
}

xg_config *xg_config_for_policy(const char *policy, struct xg_error *err)
{
	char text[4200];
	int n = snprintf(text, sizeof(text), "guests:\n  default:\n    policy: '%s'\n", policy);

	if (n < 0 || (size_t)n >= sizeof(text) || strchr(policy, '\'')) {
		snprintf(err->msg, sizeof(err->msg), "policy path too long or has a quote: %s",
			 policy);
		return NULL;
	}
	return xg_config_parse(text, (size_t)n, policy, NULL, err);
}

xg_config *xg_config_copy(const xg_config *cfg, struct xg_error *err)
{
	struct xg_config *c = xg_config_parse(cfg->text, cfg->len, cfg->name, cfg->base_dir, err);

	if (c && cfg->path)
		c->path = strdup(cfg->path);
	return c;
}

void xg_config_free(xg_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++)
		guest_clear(&cfg->guests[i]);
	guest_clear(&cfg->defaults);
	free(cfg->guests);
	free(cfg->path);
	free(cfg->name);
	free(cfg->base_dir);
	free(cfg->text);
	free(cfg);
}

size_t xg_config_guests(const xg_config *cfg)
{
	return cfg->n;
}

const char *xg_config_guest_name(const xg_config *cfg, size_t i)
{
	return i < cfg->n ? cfg->guests[i].name : NULL;
}

const struct xg_guest_cfg *xg_config_guest(const xg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->guests[i].name, name))
			return &cfg->guests[i];
	return NULL;
}
