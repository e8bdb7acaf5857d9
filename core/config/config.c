/* config.c - YAML configuration (see config.h). Uses libyaml's document API: the whole file is
 * small, and nodes keep their marks, so every message can name a line. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "backend/kvm/xg_kvm.h"
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
	/* YAML 1.1 reads 017 as octal (15), YAML 1.2 and Lua as 17: refuse the guess */
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return fail(c, n,
			    "'%s': '%s' has a leading 0, octal in YAML 1.1 and decimal in YAML "
			    "1.2: write it without the 0, or as 0o%s for octal",
			    key, s, s + 1);
	errno = 0;
	if (s[0] == '0' && s[1] == 'o' && s[2] >= '0' && s[2] <= '7')
		v = strtoull(s + 2, &end, 8); /* YAML 1.2 core schema octal */
	else
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
		if (v > UINT64_MAX / mul)
			return fail(c, n, "'%s': '%s' is too large", key, s);
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

/* A duration in seconds: a number, or one with s, m, h or d after it ("7d"). */
static int get_seconds(struct ctx *c, yaml_node_t *n, const char *key, uint64_t *out)
{
	const char *s = scalar(n);
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !*s || *s < '0' || *s > '9')
		return fail(c, n, "'%s' must be a duration (seconds, or 30m, 12h, 7d), not '%s'",
			    key, s ? s : type_name(n));
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end == 's' || *end == 'm' || *end == 'h' || *end == 'd') {
		mul = *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 1;
		end++;
	}
	if (errno || *end || v > UINT64_MAX / mul)
		return fail(c, n, "'%s' must be a duration (seconds, or 30m, 12h, 7d), not '%s'",
			    key, s);
	*out = v * mul;
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

/*
 * Limits, checked on the parser's events before the document is loaded. libyaml's document
 * keeps an alias as a reference to its anchor's node, so the loaded document stays as small
 * as the text, but it may hold cycles (`params: &a [ *a ]`), and every reader of params
 * expands the references. This pass sees each node as if the aliases were written out: for
 * every anchor it keeps the size and height of its node once the node has ended, and for
 * every open collection where its count started, so an alias costs one addition. It refuses
 * a cycle (an alias to a collection still open), nesting deeper than XG_CONFIG_MAX_DEPTH,
 * more than XG_CONFIG_MAX_NODES nodes or XG_CONFIG_MAX_BYTES of scalar text, and more than
 * XG_CONFIG_MAX_ANCHORS anchors. What else is
 * wrong (syntax, an undefined alias, a duplicate anchor) it leaves to yaml_parser_load, which
 * says so in its own words. YAML 1.2 section 3.2.2.2 (anchors and aliases).
 */
struct lim_anchor {
	char *name;
	size_t nodes, bytes; /* of its node, aliases inside expanded */
	int height;	     /* collection levels of its node, 0 for a scalar */
	int open;	     /* a collection not yet ended: an alias to it is a cycle */
	yaml_mark_t mark;
};

struct lim_frame {
	long anchor; /* index in anchors, or -1 */
	size_t nodes0, bytes0;
	int height; /* the highest child so far */
};

struct lim {
	struct ctx *c;
	struct lim_anchor *a;
	size_t na, cap;
	size_t *hash; /* open addressing: anchor index + 1, 0 for empty; 2 * cap slots */
	struct lim_frame st[XG_CONFIG_MAX_DEPTH];
	int depth;
	size_t nodes, bytes;
};

static int fail_mark(struct ctx *c, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* file:line:column: message (libyaml's marks count from 0) */
static int fail_mark(struct ctx *c, yaml_mark_t m, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err->msg, sizeof(c->err->msg), "%s:%zu:%zu: %s", c->cfg->name, m.line + 1,
		 m.column + 1, msg);
	return -1;
}

static size_t lim_hash(const char *s)
{
	size_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static long lim_find(struct lim *l, const char *name)
{
	size_t mask = 2 * l->cap - 1;

	if (!l->cap)
		return -1;
	for (size_t i = lim_hash(name) & mask; l->hash[i]; i = (i + 1) & mask)
		if (!strcmp(l->a[l->hash[i] - 1].name, name))
			return (long)(l->hash[i] - 1);
	return -1;
}

/* A new anchor; 1 when the name is taken (the loader reports the duplicate), -1 on no memory */
static int lim_anchor(struct lim *l, const char *name, yaml_mark_t m, long *idx)
{
	struct lim_anchor *a;

	if (lim_find(l, name) >= 0)
		return 1;
	/* libyaml's loader compares every anchor with all before it, and looks every alias up
	 * in that list: 45000 anchors in 1 MB took 33 s */
	if (l->na >= XG_CONFIG_MAX_ANCHORS)
		return fail_mark(l->c, m,
				 "anchor &%s: more than %d anchors, the limit: a configuration "
				 "needs a few (repeat less, or move bulk data into the policy)",
				 name, XG_CONFIG_MAX_ANCHORS);
	if (l->na == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct lim_anchor *na = realloc(l->a, cap * sizeof(*na));
		size_t *h = calloc(2 * cap, sizeof(*h));

		if (!na || !h) {
			free(h);
			if (na)
				l->a = na;
			return fail_mark(l->c, m, "out of memory");
		}
		l->a = na;
		free(l->hash);
		l->hash = h;
		l->cap = cap;
		for (size_t i = 0; i < l->na; i++) {
			size_t j = lim_hash(l->a[i].name) & (2 * cap - 1);
			while (h[j])
				j = (j + 1) & (2 * cap - 1);
			h[j] = i + 1;
		}
	}
	a = &l->a[l->na];
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	if (!a->name)
		return fail_mark(l->c, m, "out of memory");
	a->mark = m;
	{
		size_t j = lim_hash(name) & (2 * l->cap - 1);
		while (l->hash[j])
			j = (j + 1) & (2 * l->cap - 1);
		l->hash[j] = ++l->na;
	}
	*idx = (long)l->na - 1;
	return 0;
}

/* A node of the given expanded size and height at the current depth; alias: its name. */
static int lim_add(struct lim *l, yaml_mark_t m, size_t nodes, size_t bytes, int height,
		   const char *alias)
{
	if (l->depth + height > XG_CONFIG_MAX_DEPTH) {
		if (alias)
			return fail_mark(l->c, m,
					 "alias *%s nests %d levels deep here, over the limit of "
					 "%d levels of lists and mappings inside each other "
					 "(aliases expanded): flatten the structure",
					 alias, l->depth + height, XG_CONFIG_MAX_DEPTH);
		return fail_mark(l->c, m,
				 "nesting deeper than %d levels of lists and mappings inside each "
				 "other: flatten the structure",
				 XG_CONFIG_MAX_DEPTH);
	}
	l->nodes += nodes;
	l->bytes += bytes;
	if (l->nodes > XG_CONFIG_MAX_NODES) {
		if (alias)
			return fail_mark(l->c, m,
					 "alias *%s expands the configuration past %d nodes, the "
					 "limit (each alias counts as the whole node it repeats): "
					 "use fewer or smaller aliases",
					 alias, XG_CONFIG_MAX_NODES);
		return fail_mark(l->c, m,
				 "the configuration has more than %d nodes (scalars, lists and "
				 "mappings), the limit: split it or move bulk data into the policy",
				 XG_CONFIG_MAX_NODES);
	}
	if (l->bytes > XG_CONFIG_MAX_BYTES) {
		if (alias)
			return fail_mark(l->c, m,
					 "alias *%s expands the configuration past %u MiB of text, "
					 "the limit (each alias counts as the whole node it "
					 "repeats): use fewer or smaller aliases",
					 alias, XG_CONFIG_MAX_BYTES >> 20);
		return fail_mark(l->c, m,
				 "the configuration has more than %u MiB of text in its values, "
				 "the limit: move bulk data into the policy",
				 XG_CONFIG_MAX_BYTES >> 20);
	}
	if (l->depth && l->st[l->depth - 1].height < height)
		l->st[l->depth - 1].height = height;
	return 0;
}

static int lim_open(struct lim *l, const yaml_event_t *ev, const yaml_char_t *anchor)
{
	struct lim_frame *f;
	long idx = -1;
	int rc = lim_add(l, ev->start_mark, 1, 0, 1, NULL);

	if (!rc && anchor)
		rc = lim_anchor(l, (const char *)anchor, ev->start_mark, &idx);
	if (rc)
		return rc;
	if (idx >= 0)
		l->a[idx].open = 1;
	f = &l->st[l->depth++];
	f->anchor = idx;
	f->nodes0 = l->nodes - 1;
	f->bytes0 = l->bytes;
	f->height = 0;
	return 0;
}

static void lim_close(struct lim *l)
{
	struct lim_frame *f;
	int height;

	if (!l->depth)
		return;
	f = &l->st[--l->depth];
	height = f->height + 1;
	if (f->anchor >= 0) {
		struct lim_anchor *a = &l->a[f->anchor];
		a->open = 0;
		a->nodes = l->nodes - f->nodes0;
		a->bytes = l->bytes - f->bytes0;
		a->height = height;
	}
	if (l->depth && l->st[l->depth - 1].height < height)
		l->st[l->depth - 1].height = height;
}

static int lim_scalar(struct lim *l, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = ev->data.scalar.anchor;
	size_t len = ev->data.scalar.length;
	long idx;
	int rc;

	/* a "\0" escape (YAML 1.2 5.7) makes a NUL byte inside the scalar; every string of a
	 * config ends up a C string, which would silently end there (a path to another file) */
	if (memchr(ev->data.scalar.value, 0, len))
		return fail_mark(l->c, ev->start_mark,
				 "a NUL character (\\0) inside a string: configuration strings "
				 "(paths, names, params) cannot hold one");
	rc = lim_add(l, ev->start_mark, 1, len, 0, NULL);

	if (!rc && anchor && !(rc = lim_anchor(l, (const char *)anchor, ev->start_mark, &idx))) {
		l->a[idx].nodes = 1;
		l->a[idx].bytes = len;
	}
	return rc;
}

static int lim_alias(struct lim *l, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	long idx = lim_find(l, name);
	const struct lim_anchor *a;

	if (idx < 0)
		return 1; /* undefined: the loader says so */
	a = &l->a[idx];
	if (a->open)
		return fail_mark(l->c, ev->start_mark,
				 "alias *%s refers to %s (a cycle): the node anchored &%s at "
				 "%zu:%zu contains this alias, so it never ends; an alias may only "
				 "repeat a node that ends before it",
				 name,
				 l->depth && l->st[l->depth - 1].anchor == idx ? "itself"
									       : "a node around it",
				 name, a->mark.line + 1, a->mark.column + 1);
	return lim_add(l, ev->start_mark, a->nodes, a->bytes, a->height, name);
}

/* -1 with the message set when the first document of text is over a limit, 0 otherwise */
static int check_limits(struct ctx *c, const char *text, size_t len)
{
	struct lim l = {.c = c};
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0, docs = 0;

	if (!yaml_parser_initialize(&p))
		return fail(c, NULL, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!rc && yaml_parser_parse(&p, &ev)) {
		const yaml_char_t *tag = NULL;
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
			if (!ev.data.scalar.plain_implicit && !ev.data.scalar.quoted_implicit)
				tag = ev.data.scalar.tag;
			rc = tag ? 0 : lim_scalar(&l, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (!ev.data.sequence_start.implicit)
				tag = ev.data.sequence_start.tag;
			rc = tag ? 0 : lim_open(&l, &ev, ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			if (!ev.data.mapping_start.implicit)
				tag = ev.data.mapping_start.tag;
			rc = tag ? 0 : lim_open(&l, &ev, ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			lim_close(&l);
			break;
		case YAML_ALIAS_EVENT:
			rc = lim_alias(&l, &ev);
			break;
		case YAML_DOCUMENT_START_EVENT:
			/* the loader would read the first document only, silently */
			if (++docs > 1)
				rc = fail_mark(c, ev.start_mark,
					       "a second YAML document (after '---'): a "
					       "configuration is one document; remove the '---' "
					       "line and merge what follows, or split the file");
			break;
		case YAML_STREAM_END_EVENT:
			rc = 1;
			break;
		default:
			break;
		}
		/* a tag would change what a value means (!!int, !!binary, !custom), which
		 * exitgate does not do: it reads every value as written */
		if (tag)
			rc = fail_mark(c, ev.start_mark,
				       "YAML tag '%s' is not supported: values are read as written; "
				       "remove the tag (quote a value to keep it a string)",
				       (const char *)tag);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	for (size_t i = 0; i < l.na; i++)
		free(l.a[i].name);
	free(l.a);
	free(l.hash);
	return rc < 0 ? -1 : 0;
}

/* The params tree of node n, which check_limits has seen: acyclic, depth and size bounded.
 * A guest without its own params shares the defaults' tree (refs counts the sharers). */
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

static void param_put(struct xg_param *root)
{
	if (root && --root->refs == 0)
		param_free(root);
}

static struct xg_param *param_from(yaml_document_t *d, yaml_node_t *n, int depth)
{
	struct xg_param *p, **tail;

	if (!n || depth > XG_CONFIG_MAX_DEPTH || !(p = calloc(1, sizeof(*p))))
		return NULL;
	tail = &p->child;
	if (n->type == YAML_SCALAR_NODE) {
		p->type = XG_PARAM_SCALAR;
		p->value = strdup((const char *)n->data.scalar.value);
		p->plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (!p->value)
			goto fail;
	} else if (n->type == YAML_SEQUENCE_NODE) {
		p->type = XG_PARAM_SEQ;
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			*tail = param_from(d, yaml_document_get_node(d, *i), depth + 1);
			if (!*tail)
				goto fail;
			tail = &(*tail)->next;
		}
	} else {
		p->type = XG_PARAM_MAP;
		for (yaml_node_pair_t *i = n->data.mapping.pairs.start;
		     i < n->data.mapping.pairs.top; i++) {
			yaml_node_t *k = yaml_document_get_node(d, i->key);
			*tail = param_from(d, yaml_document_get_node(d, i->value), depth + 1);
			if (!*tail)
				goto fail;
			(*tail)->key = strdup(k && scalar(k) ? scalar(k) : "?");
			if (!(*tail)->key)
				goto fail;
			tail = &(*tail)->next;
		}
	}
	p->refs = 1;
	return p;
fail:
	param_free(p);
	return NULL;
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
		     errno ? strerror(errno) : xg_file_kind(st.st_mode));
		free(path);
		return -1;
	}
	free(g->policy);
	g->policy = path;
	return 0;
}

/*
 * The vm: section, read only by the mini-VMM (`exitgate run`). Its limits come from the KVM
 * backend's memory map (xg_kvm.h): RAM from GPA 0 up to below XG_KVM_MMIO_BASE, the long-mode
 * tables at XG_KVM_RESERVED_START..END, devices in the MMIO window where no RAM is behind.
 */
#define VM_MIN_MEMORY (2ull << 20)
/* The engine has no limit of its own; KVM's is checked when the VM is made (KVM_CAP_MAX_VCPUS,
 * 1024 on the project's hosts). This bound keeps a typo from asking for a million threads. */
#define VM_MAX_VCPUS  1024
#define VM_MAX_DEVS   16
#define VM_MAX_MSR    16
#define VM_PAGE	      4096ull
#define VM_MMIO_END   (XG_KVM_MMIO_BASE + XG_KVM_MMIO_SIZE)
#define VM_REAL_LIMIT 0x100000ull /* real mode reaches the first MiB only */
#define VM_DEV_KNOWN  "console, done, ram, pattern"
#define VM_KEYS_KNOWN                                                                              \
	"payload, memory, mode, vcpus, load, entry, timeout, storm, msr_trap, devices, type, "     \
	"private, plain, arch, ram_base"
/* arm64: the IPA space KVM gives a VM by default (api.rst 4.2 KVM_CREATE_VM, "the default
 * IPA size is 40 bits") */
#define VM_ARM64_IPA_END (1ull << 40)
#define VM_MAX_PRIV   16

/* Device models by type: port devices take port:, the others a GPA window (at:, size:). */
static const struct vm_dev_kind {
	const char *name;
	int is_port;
	uint64_t ports; /* how many ports from port: the model answers */
} vm_dev_kinds[XG_DEV_NTYPES] = {
    [XG_DEV_CONSOLE] = {"console", 1, 8},
    [XG_DEV_DONE] = {"done", 1, 4},
    [XG_DEV_RAM] = {"ram", 0, 0},
    [XG_DEV_PATTERN] = {"pattern", 0, 0},
};

static const char *const vm_modes[] = {[XG_KVM_LONG] = "long", [XG_KVM_REAL] = "real"};
static const char *const vm_arches[] = {[XG_ARCH_X86_64] = "x86_64", [XG_ARCH_ARM64] = "arm64"};

const char *xg_config_arch_name(int arch)
{
	return arch >= 0 && arch < (int)(sizeof(vm_arches) / sizeof(*vm_arches)) ? vm_arches[arch]
										 : "?";
}

/* A key as messages name it: key_at(buf, "guests.web.vm", ".%s", "memory"). */
static const char *key_at(char *out, size_t n, const char *base, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static const char *key_at(char *out, size_t n, const char *base, const char *fmt, ...)
{
	size_t l = (size_t)snprintf(out, n, "%s", base);
	va_list ap;

	if (l < n) {
		va_start(ap, fmt);
		vsnprintf(out + l, n - l, fmt, ap);
		va_end(ap);
	}
	return out;
}

static void vm_clear(struct xg_vm_cfg *vm)
{
	free(vm->payload);
	free(vm->devs);
	free(vm->msr_trap);
	free(vm->priv);
	free(vm->plain);
	memset(vm, 0, sizeof(*vm));
}

static int get_msr(struct ctx *c, yaml_node_t *n, const char *key, uint32_t *out)
{
	uint64_t v = 0; /* get_uint sets it on success; -O2 inlining cannot see that */

	if (get_uint(c, n, key, 0, &v))
		return -1;
	if (v > UINT32_MAX)
		return fail(c, n,
			    "%s: %s is not an MSR number (MSRs are 32-bit: at most 0xffffffff)",
			    key, scalar(n));
	*out = (uint32_t)v;
	return 0;
}

static int parse_msr_trap(struct ctx *c, yaml_node_t *n, const char *key, struct xg_vm_cfg *vm)
{
	yaml_node_item_t *i0;
	char k[200], kk[220];
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n,
			    "%s must be a list of MSR numbers or [first, last] ranges, e.g. "
			    "[0x1a0, [0xc0010000, 0xc0010010]], not %s",
			    key, type_name(n));
	i0 = n->data.sequence.items.start;
	count = (size_t)(n->data.sequence.items.top - i0);
	if (count > VM_MAX_MSR)
		return fail(c, n,
			    "%s: %zu entries, at most %d (join neighbours into [first, last])", key,
			    count, VM_MAX_MSR);
	free(vm->msr_trap);
	vm->nmsr_trap = 0;
	vm->msr_trap = calloc(count ? count : 1, sizeof(*vm->msr_trap));
	if (!vm->msr_trap)
		return fail(c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, i0[i]);
		struct xg_msr_range *r = &vm->msr_trap[i];
		yaml_node_item_t *p = NULL;

		key_at(k, sizeof(k), key, "[%zu]", i);
		if (e->type == YAML_SCALAR_NODE) {
			if (get_msr(c, e, k, &r->first))
				return -1;
			r->last = r->first;
		} else if (e->type == YAML_SEQUENCE_NODE &&
			   e->data.sequence.items.top - (p = e->data.sequence.items.start) == 2) {
			if (get_msr(c, yaml_document_get_node(c->doc, p[0]),
				    key_at(kk, sizeof(kk), k, "[0]"), &r->first) ||
			    get_msr(c, yaml_document_get_node(c->doc, p[1]),
				    key_at(kk, sizeof(kk), k, "[1]"), &r->last))
				return -1;
			if (r->first > r->last)
				return fail(c, e,
					    "%s: first 0x%x is above last 0x%x (write the range "
					    "[0x%x, 0x%x])",
					    k, r->first, r->last, r->last, r->first);
		} else {
			return fail(c, e,
				    "%s must be an MSR number or a [first, last] range, not %s", k,
				    e->type == YAML_SEQUENCE_NODE ? "a list of other than two"
								  : type_name(e));
		}
		vm->nmsr_trap++;
	}
	return 0;
}

/*
 * A list of { gpa: G, size: S } ranges of RAM (whole 4K pages; checked against RAM in
 * check_vm): vm.private, the ranges of a sw_protected VM's RAM that start private (the rest
 * starts shared; KVM_SET_MEMORY_ATTRIBUTES takes page-aligned ranges, api.rst 4.141), and
 * vm.plain, RAM in memslots without a guest_memfd (shared only: a private access there
 * exits memory_fault).
 */
static int parse_ranges(struct ctx *c, yaml_node_t *n, const char *key, struct xg_gpa_range **out,
			size_t *nout)
{
	yaml_node_item_t *i0;
	char k[200], kk[220];
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n,
			    "%s must be a list of ranges, e.g. [ { gpa: 0x200000, size: 64K } ], "
			    "not %s",
			    key, type_name(n));
	i0 = n->data.sequence.items.start;
	count = (size_t)(n->data.sequence.items.top - i0);
	if (count > VM_MAX_PRIV)
		return fail(c, n, "%s: %zu ranges, at most %d (join neighbours)", key, count,
			    VM_MAX_PRIV);
	free(*out);
	*nout = 0;
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return fail(c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, i0[i]);
		struct xg_gpa_range *r = &(*out)[i];
		int have_gpa = 0, have_size = 0;

		key_at(k, sizeof(k), key, "[%zu]", i);
		if (want_map(c, e, k))
			return -1;
		for (yaml_node_pair_t *p = e->data.mapping.pairs.start;
		     p < e->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
			const char *s = scalar(kn);

			if (s && !strcmp(s, "gpa")) {
				if (get_uint(c, v, key_at(kk, sizeof(kk), k, ".gpa"), 1, &r->gpa))
					return -1;
				have_gpa = 1;
			} else if (s && !strcmp(s, "size")) {
				if (get_uint(c, v, key_at(kk, sizeof(kk), k, ".size"), 1, &r->size))
					return -1;
				have_size = 1;
			} else {
				return fail(c, kn, "%s: unknown key '%s' (known: gpa, size)", k,
					    s ? s : type_name(kn));
			}
		}
		if (!have_gpa || !have_size)
			return fail(c, e,
				    "%s: give both gpa: and size:, e.g. { gpa: 0x200000, "
				    "size: 4K }",
				    k);
		if (!r->size || r->gpa % VM_PAGE || r->size % VM_PAGE)
			return fail(c, e,
				    "%s: gpa 0x%llx and size 0x%llx must be whole 4K pages (and "
				    "size > 0): KVM sets memory attributes by pages",
				    k, (unsigned long long)r->gpa, (unsigned long long)r->size);
		(*nout)++;
	}
	return 0;
}

/* One device mapping; type: first, since it decides which keys the others may be. */
static int parse_dev(struct ctx *c, yaml_node_t *m, const char *key, struct xg_dev_cfg *dev)
{
	yaml_node_t *type = NULL, *port = NULL, *at = NULL, *size = NULL;
	const struct vm_dev_kind *kind = NULL;
	char k[220];
	const char *s;

	if (want_map(c, m, key))
		return -1;
	dev->line = (int)m->start_mark.line + 1;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		s = scalar(yaml_document_get_node(c->doc, p->key));
		if (s && !strcmp(s, "type"))
			type = yaml_document_get_node(c->doc, p->value);
	}
	if (!type)
		return fail(c, m, "%s: no 'type' (known: " VM_DEV_KNOWN ")", key);
	s = scalar(type);
	for (int t = 0; s && t < XG_DEV_NTYPES; t++)
		if (!strcmp(s, vm_dev_kinds[t].name)) {
			kind = &vm_dev_kinds[t];
			dev->type = (enum xg_dev_type)t;
		}
	if (!kind)
		return fail(c, type, "%s.type: unknown device type '%s' (known: " VM_DEV_KNOWN ")",
			    key, s ? s : type_name(type));
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);

		s = scalar(kn) ? scalar(kn) : "?";
		if (!strcmp(s, "type"))
			continue;
		if (kind->is_port && !strcmp(s, "port"))
			port = v;
		else if (!strcmp(s, "at"))
			at = v;
		else if (!kind->is_port && !strcmp(s, "size"))
			size = v;
		else
			return fail(c, kn, "%s: unknown key '%s' for a %s device (known: %s)", key,
				    s, kind->name,
				    kind->is_port ? "type, port, at" : "type, at, size");
	}
	if (kind->is_port && port && at)
		return fail(c, at,
			    "%s: a %s device takes 'port:' (an I/O port) or 'at:' (a 4K MMIO "
			    "page), not both",
			    key, kind->name);
	if (kind->is_port && !at) {
		dev->port = 1;
		if (!port)
			return fail(c, m,
				    "%s: a %s device needs 'port:' (0..0xffff) or 'at:' (a 4K page "
				    "in the MMIO window, e.g. 0x%llx)",
				    key, kind->name, (unsigned long long)XG_KVM_MMIO_BASE);
		key_at(k, sizeof(k), key, ".port");
		if (get_uint(c, port, k, 0, &dev->at))
			return -1;
		dev->size = kind->ports;
		if (dev->at > 0xffff)
			return fail(c, port, "%s: %s is not an I/O port (ports are 0..0xffff)", k,
				    scalar(port));
		if (dev->at + dev->size > 0x10000)
			return fail(
			    c, port,
			    "%s: a %s device uses %llu ports from %s, past 0xffff (use a port "
			    "of at most 0x%llx)",
			    k, kind->name, (unsigned long long)dev->size, scalar(port),
			    (unsigned long long)(0x10000 - dev->size));
		return 0;
	}
	if (kind->is_port) {
		/* console, done as MMIO registers: one 4K page, the registers at its start */
		size = NULL;
		dev->size = VM_PAGE;
	} else if (!at || !size)
		return fail(c, m,
			    "%s: a %s device needs 'at:' and 'size:' (e.g. at: 0x%llx, size: 4K)",
			    key, kind->name, (unsigned long long)XG_KVM_MMIO_BASE);
	key_at(k, sizeof(k), key, ".at");
	if (get_uint(c, at, k, 0, &dev->at))
		return -1;
	if (dev->at < XG_KVM_MMIO_BASE || dev->at >= VM_MMIO_END)
		return fail(
		    c, at,
		    "%s: 0x%llx is outside the MMIO window 0x%llx..0x%llx (device addresses "
		    "must have no RAM behind them)",
		    k, (unsigned long long)dev->at, (unsigned long long)XG_KVM_MMIO_BASE,
		    (unsigned long long)VM_MMIO_END - 1);
	if (dev->at % VM_PAGE)
		return fail(c, at,
			    "%s: 0x%llx is not a multiple of 4K (device windows are whole pages: "
			    "0x%llx would do)",
			    k, (unsigned long long)dev->at,
			    (unsigned long long)(dev->at & ~(VM_PAGE - 1)));
	if (!size)
		return 0;
	key_at(k, sizeof(k), key, ".size");
	if (get_uint(c, size, k, 1, &dev->size))
		return -1;
	if (!dev->size || dev->size % VM_PAGE)
		return fail(c, size,
			    "%s: %s is not a positive multiple of 4K (device windows are whole "
			    "pages, e.g. 4K or 64K)",
			    k, scalar(size));
	if (dev->size > VM_MMIO_END - dev->at)
		return fail(c, size,
			    "%s: %s from 0x%llx runs past the MMIO window's end 0x%llx (at most "
			    "0x%llx bytes fit there)",
			    k, scalar(size), (unsigned long long)dev->at,
			    (unsigned long long)VM_MMIO_END - 1,
			    (unsigned long long)(VM_MMIO_END - dev->at));
	return 0;
}

static int parse_devices(struct ctx *c, yaml_node_t *n, const char *key, struct xg_vm_cfg *vm)
{
	yaml_node_item_t *i0;
	char k[200];
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(
		    c, n,
		    "%s must be a list of devices, e.g. '- { type: console, port: 0x3f8 }', "
		    "not %s",
		    key, type_name(n));
	i0 = n->data.sequence.items.start;
	count = (size_t)(n->data.sequence.items.top - i0);
	if (count > VM_MAX_DEVS)
		return fail(c, n, "%s: %zu devices, at most %d", key, count, VM_MAX_DEVS);
	free(vm->devs);
	vm->ndevs = 0;
	vm->devs = calloc(count ? count : 1, sizeof(*vm->devs));
	if (!vm->devs)
		return fail(c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, i0[i]);
		struct xg_dev_cfg *d = &vm->devs[i];

		key_at(k, sizeof(k), key, "[%zu]", i);
		if (parse_dev(c, e, k, d))
			return -1;
		/* Port devices share the I/O space, ram and pattern the MMIO window. */
		for (size_t j = 0; j < i; j++) {
			const struct xg_dev_cfg *o = &vm->devs[j];
			int port = d->port;

			if (port != o->port || d->at >= o->at + o->size || o->at >= d->at + d->size)
				continue;
			return fail(
			    c, e,
			    "%s: %s 0x%llx..0x%llx overlap devices[%zu] (the %s at line %d, "
			    "0x%llx..0x%llx): give each device its own range",
			    k, port ? "ports" : "addresses", (unsigned long long)d->at,
			    (unsigned long long)(d->at + d->size - 1), j,
			    vm_dev_kinds[o->type].name, o->line, (unsigned long long)o->at,
			    (unsigned long long)(o->at + o->size - 1));
		}
		vm->ndevs++;
	}
	return 0;
}

/* Checks between keys, once all are read. The nodes are where the keys are set, vm: itself
 * for a default (entry: that of load). */
/* Whether a vm.private or vm.plain range lies wholly in the guest's RAM (no wrap). */
static int in_ram(const struct xg_vm_cfg *vm, const struct xg_gpa_range *r)
{
	return r->gpa < vm->memory && r->size <= vm->memory - r->gpa;
}

/* ... or in the window of a ram or pattern device (whole pages, no memslot: the backend
 * may set its attributes, core/backend/kvm/vmm.c) */
static int in_window(const struct xg_vm_cfg *vm, const struct xg_gpa_range *r)
{
	for (size_t i = 0; i < vm->ndevs; i++) {
		const struct xg_dev_cfg *d = &vm->devs[i];
		if ((d->type == XG_DEV_RAM || d->type == XG_DEV_PATTERN) && !(d->at % 4096) &&
		    !(d->size % 4096) && r->gpa >= d->at && r->gpa - d->at < d->size &&
		    r->size <= d->size - (r->gpa - d->at))
			return 1;
	}
	return 0;
}

static int fail_not_in_ram(struct ctx *c, yaml_node_t *n, const struct xg_vm_cfg *vm,
			   const struct xg_gpa_range *r, const char *key, int windows)
{
	return fail(c, n, "%s: 0x%llx..0x%llx is not all in RAM (memory ends at 0x%llx)%s", key,
		    (unsigned long long)r->gpa, (unsigned long long)(r->gpa + r->size - 1),
		    (unsigned long long)vm->memory - 1,
		    windows ? " nor in one page-aligned ram or pattern device" : "");
}

/* Where the keys that depend on vm.arch were set (NULL: not given). */
struct vm_nodes {
	yaml_node_t *arch, *ram_base, *load, *mode, *msr_trap, *type, *devices;
};

/* What an arm64 guest cannot have: x86's modes, MSRs, VM types and I/O ports. Its RAM is at
 * ram_base, clear of the MMIO window and inside the default 40-bit IPA space. */
static int check_arm64(struct ctx *c, const char *base, struct xg_vm_cfg *vm,
		       const struct vm_nodes *nd)
{
	uint64_t rb = nd->ram_base ? vm->ram_base : XG_KVM_ARM64_RAM_BASE;
	char k[200];

	if (nd->mode)
		return fail(c, nd->mode,
			    "%s: modes are x86's (long, real); an arm64 vCPU starts in AArch64 at "
			    "EL1 with the MMU off: remove mode",
			    key_at(k, sizeof(k), base, ".mode"));
	if (nd->msr_trap)
		return fail(c, nd->msr_trap, "%s: MSRs are x86's: remove msr_trap for arm64",
			    key_at(k, sizeof(k), base, ".msr_trap"));
	if (nd->type && vm->type != XG_VM_DEFAULT)
		return fail(c, nd->type,
			    "%s: sw_protected is an x86 VM type (KVM_X86_SW_PROTECTED_VM); arm64 "
			    "guests take 'type: default'",
			    key_at(k, sizeof(k), base, ".type"));
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].port)
			return fail(c, nd->devices,
				    "%s: arm64 has no I/O ports: give the %s 'at:' (a 4K page in "
				    "the MMIO window, e.g. at: 0x%llx) instead of 'port:'",
				    key_at(k, sizeof(k), base, ".devices[%zu]", i),
				    vm_dev_kinds[vm->devs[i].type].name,
				    (unsigned long long)XG_KVM_MMIO_BASE);
	if (rb % VM_PAGE || rb + vm->memory < rb || rb + vm->memory > VM_ARM64_IPA_END ||
	    (rb < VM_MMIO_END && rb + vm->memory > XG_KVM_MMIO_BASE))
		return fail(c, nd->ram_base ? nd->ram_base : nd->arch,
			    "%s: RAM 0x%llx..0x%llx must start on a 4K page, stay below 0x%llx "
			    "(a 40-bit IPA space) and clear of the MMIO window 0x%llx..0x%llx "
			    "(the default ram_base 0x%llx takes up to %lluM)",
			    key_at(k, sizeof(k), base, ".ram_base"), (unsigned long long)rb,
			    (unsigned long long)(rb + vm->memory - 1), VM_ARM64_IPA_END,
			    (unsigned long long)XG_KVM_MMIO_BASE,
			    (unsigned long long)VM_MMIO_END - 1,
			    (unsigned long long)XG_KVM_ARM64_RAM_BASE,
			    (unsigned long long)((XG_KVM_MMIO_BASE - XG_KVM_ARM64_RAM_BASE) >> 20));
	return 0;
}

static int check_vm(struct ctx *c, yaml_node_t *vmk, const char *base, struct xg_vm_cfg *vm,
		    yaml_node_t *memory, yaml_node_t *load, yaml_node_t *entry, yaml_node_t *vcpus,
		    yaml_node_t *priv, yaml_node_t *plain)
{
	uint64_t stacks;
	char k[200];

	if (!vm->payload)
		return fail(c, vmk,
			    "%s.payload: missing: name the flat binary to run (e.g. "
			    "'payload: demo.bin')",
			    base);
	if (vm->memory < VM_MIN_MEMORY)
		return fail(c, memory, "%s: %s is too small: give at least 2M",
			    key_at(k, sizeof(k), base, ".memory"), scalar(memory));
	if (vm->arch == XG_ARCH_X86_64 && vm->memory > XG_KVM_MMIO_BASE)
		return fail(c, memory,
			    "%s: %s reaches into the MMIO window at 0x%llx: RAM must end below it "
			    "(at most %lluM)",
			    key_at(k, sizeof(k), base, ".memory"), scalar(memory),
			    (unsigned long long)XG_KVM_MMIO_BASE,
			    (unsigned long long)(XG_KVM_MMIO_BASE >> 20));
	if (vm->memory % VM_PAGE)
		return fail(c, memory,
			    "%s: %s is not a whole number of 4K pages (KVM maps RAM "
			    "by pages: round it to a multiple of 4K)",
			    key_at(k, sizeof(k), base, ".memory"), scalar(memory));
	if (vm->arch == XG_ARCH_X86_64 && vm->mode == XG_KVM_LONG && vm->load < XG_KVM_RESERVED_END)
		return fail(c, load,
			    "%s: 0x%llx is below 0x%llx: the long-mode page tables live at "
			    "0x%llx..0x%llx (load at 0x%llx or above, e.g. 0x%llx)",
			    key_at(k, sizeof(k), base, ".load"), (unsigned long long)vm->load,
			    (unsigned long long)XG_KVM_RESERVED_END,
			    (unsigned long long)XG_KVM_RESERVED_START,
			    (unsigned long long)XG_KVM_RESERVED_END - 1,
			    (unsigned long long)XG_KVM_RESERVED_END,
			    (unsigned long long)XG_KVM_LOAD_ADDR);
	if (vm->load < vm->ram_base)
		return fail(c, load,
			    "%s: 0x%llx is not in RAM (RAM starts at ram_base 0x%llx): load at "
			    "0x%llx or above",
			    key_at(k, sizeof(k), base, ".load"), (unsigned long long)vm->load,
			    (unsigned long long)vm->ram_base, (unsigned long long)vm->ram_base);
	if (vm->load - vm->ram_base >= vm->memory)
		return fail(c, load,
			    "%s: 0x%llx is not in RAM (memory ends at 0x%llx): load lower or give "
			    "more memory",
			    key_at(k, sizeof(k), base, ".load"), (unsigned long long)vm->load,
			    (unsigned long long)(vm->ram_base + vm->memory - 1));
	/* Long mode gives each vCPU a stack of XG_KVM_VCPU_STACK below the previous one's, from
	 * the top of RAM down (xg_kvm.h): they must stay above the payload. */
	stacks = (uint64_t)vm->vcpus * XG_KVM_VCPU_STACK;
	if (vm->mode == XG_KVM_LONG && stacks > vm->memory - (vm->load - vm->ram_base))
		return fail(c, vcpus,
			    "%s: %d vCPUs need %lluK of stack (%lluK each, from the top of RAM "
			    "down), which reaches below the payload at 0x%llx: give more memory "
			    "(at least %lluM) or fewer vcpus",
			    key_at(k, sizeof(k), base, ".vcpus"), vm->vcpus,
			    (unsigned long long)(stacks >> 10),
			    (unsigned long long)(XG_KVM_VCPU_STACK >> 10),
			    (unsigned long long)vm->load,
			    (unsigned long long)((vm->load + stacks) >> 20) + 2);
	if (vm->mode == XG_KVM_REAL && vm->entry >= VM_REAL_LIMIT)
		return fail(
		    c, entry,
		    "%s: 0x%llx is not below 0x%llx, the first MiB real mode can reach (set "
		    "entry, or load, below it, e.g. 0x7c00)",
		    key_at(k, sizeof(k), base, ".entry"), (unsigned long long)vm->entry,
		    (unsigned long long)VM_REAL_LIMIT);
	if (vm->npriv && vm->type != XG_VM_SW_PROTECTED)
		return fail(c, priv,
			    "%s: private memory needs a software-protected VM: add 'type: "
			    "sw_protected'",
			    key_at(k, sizeof(k), base, ".private"));
	for (size_t i = 0; i < vm->npriv; i++)
		if (!in_ram(vm, &vm->priv[i]) && !in_window(vm, &vm->priv[i]))
			return fail_not_in_ram(c, priv, vm, &vm->priv[i],
					       key_at(k, sizeof(k), base, ".private[%zu]", i), 1);
	if (vm->nplain && vm->type != XG_VM_SW_PROTECTED)
		return fail(c, plain,
			    "%s: memslots without guest_memfd only mean something in a "
			    "software-protected VM: add 'type: sw_protected'",
			    key_at(k, sizeof(k), base, ".plain"));
	for (size_t i = 0; i < vm->nplain; i++) {
		const struct xg_gpa_range *r = &vm->plain[i];
		if (!in_ram(vm, r))
			return fail_not_in_ram(c, plain, vm, r,
					       key_at(k, sizeof(k), base, ".plain[%zu]", i), 0);
		for (size_t j = 0; j < i; j++) {
			const struct xg_gpa_range *o = &vm->plain[j];
			if (r->gpa < o->gpa + o->size && o->gpa < r->gpa + r->size)
				return fail(c, plain, "%s: overlaps plain[%zu]: join them",
					    key_at(k, sizeof(k), base, ".plain[%zu]", i), j);
		}
	}
	return 0;
}

static int parse_vm(struct ctx *c, yaml_node_t *vmk, yaml_node_t *m, struct xg_guest_cfg *g)
{
	struct xg_vm_cfg *vm = &g->vm;
	yaml_node_t *memory = vmk, *load = vmk, *entry = NULL, *vcpus = vmk, *priv = vmk,
		    *plain = vmk;
	struct vm_nodes nd = {.arch = vmk, .ram_base = NULL, .load = NULL};
	char base[160], k[200];
	uint64_t v;

	vm_clear(vm);
	snprintf(base, sizeof(base), "guests.%s.vm", g->name);
	if (want_map(c, m, base))
		return -1;
	vm->present = 1;
	vm->line = (int)vmk->start_mark.line + 1;
	vm->memory = XG_KVM_DEFAULT_MEM;
	vm->mode = XG_KVM_LONG;
	vm->vcpus = 1;
	vm->load = XG_KVM_LOAD_ADDR;
	vm->storm = XG_DEFAULT_STORM;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *n = yaml_document_get_node(c->doc, p->value);
		const char *s = scalar(kn);
		int rc = 0;

		if (!s)
			return fail(c, kn, "keys must be names");
		key_at(k, sizeof(k), base, ".%s", s);
		if (!strcmp(s, "arch")) {
			const char *t = scalar(n);
			nd.arch = n;
			vm->arch = -1;
			for (int i = 0; t && i < (int)(sizeof(vm_arches) / sizeof(*vm_arches)); i++)
				if (!strcmp(t, vm_arches[i]))
					vm->arch = i;
			if (vm->arch < 0)
				rc = fail(c, n,
					  "%s: '%s' is not an architecture (known: x86_64, arm64)",
					  k, t ? t : type_name(n));
		} else if (!strcmp(s, "ram_base")) {
			nd.ram_base = n;
			rc = get_uint(c, n, k, 0, &vm->ram_base);
		} else if (!strcmp(s, "payload")) {
			rc = get_str(c, n, k, &vm->payload);
			if (!rc && !*vm->payload)
				rc = fail(c, n, "%s: empty: name the flat binary to run", k);
		} else if (!strcmp(s, "memory")) {
			rc = get_uint(c, n, k, 1, &vm->memory);
			memory = n;
		} else if (!strcmp(s, "mode")) {
			const char *t = scalar(n);
			nd.mode = n;
			vm->mode = -1;
			for (int i = 0; t && i < (int)(sizeof(vm_modes) / sizeof(*vm_modes)); i++)
				if (!strcmp(t, vm_modes[i]))
					vm->mode = i;
			if (vm->mode < 0)
				rc = fail(c, n, "%s: '%s' is not a mode (known: long, real)", k,
					  t ? t : type_name(n));
		} else if (!strcmp(s, "vcpus")) {
			vcpus = n;
			rc = get_uint(c, n, k, 0, &v);
			if (!rc && (v < 1 || v > VM_MAX_VCPUS))
				rc = fail(c, n, "%s: %s is out of range (1..%d)", k, scalar(n),
					  VM_MAX_VCPUS);
			else if (!rc)
				vm->vcpus = (int)v;
		} else if (!strcmp(s, "load")) {
			rc = get_uint(c, n, k, 0, &vm->load);
			load = nd.load = n;
		} else if (!strcmp(s, "entry")) {
			rc = get_uint(c, n, k, 0, &vm->entry);
			entry = n;
		} else if (!strcmp(s, "timeout")) {
			rc = get_double(c, n, k, &vm->timeout);
			if (!rc && !isfinite(vm->timeout))
				rc = fail(c, n,
					  "%s: '%s' is not a number of seconds (e.g. 30 or 2.5; "
					  "0 for none)",
					  k, scalar(n));
		} else if (!strcmp(s, "storm")) {
			rc = get_uint(c, n, k, 0, &vm->storm);
		} else if (!strcmp(s, "msr_trap")) {
			nd.msr_trap = n;
			rc = parse_msr_trap(c, n, k, vm);
		} else if (!strcmp(s, "devices")) {
			nd.devices = n;
			rc = parse_devices(c, n, k, vm);
		} else if (!strcmp(s, "type")) {
			nd.type = n;
			/* api.rst 4.2 KVM_CREATE_VM: on x86 the type is KVM_X86_DEFAULT_VM or
			 * one of KVM_CAP_VM_TYPES; sw_protected = KVM_X86_SW_PROTECTED_VM, with
			 * guest_memfd memory and private/shared attributes */
			const char *t = scalar(n);
			if (t && !strcmp(t, "default"))
				vm->type = XG_VM_DEFAULT;
			else if (t && !strcmp(t, "sw_protected"))
				vm->type = XG_VM_SW_PROTECTED;
			else
				rc = fail(c, n, "%s: '%s' is not a VM type (known: default, "
						"sw_protected)",
					  k, t ? t : type_name(n));
		} else if (!strcmp(s, "private")) {
			priv = n;
			rc = parse_ranges(c, n, k, &vm->priv, &vm->npriv);
		} else if (!strcmp(s, "plain")) {
			plain = n;
			rc = parse_ranges(c, n, k, &vm->plain, &vm->nplain);
		} else {
			rc =
			    fail(c, kn, "%s: unknown key '%s' (known: " VM_KEYS_KNOWN ")", base, s);
		}
		if (rc)
			return -1;
	}
	if (vm->arch == XG_ARCH_ARM64) {
		if (check_arm64(c, base, vm, &nd))
			return -1;
		if (!nd.ram_base)
			vm->ram_base = XG_KVM_ARM64_RAM_BASE;
		if (!nd.load)
			vm->load = vm->ram_base;
	} else if (nd.ram_base && vm->ram_base) {
		return fail(c, nd.ram_base,
			    "%s: x86 guests have RAM at GPA 0 (ram_base is for arm64 guests, "
			    "'arch: arm64')",
			    key_at(k, sizeof(k), base, ".ram_base"));
	}
	if (!entry) {
		vm->entry = vm->load;
		entry = load;
	}
	return check_vm(c, vmk, base, vm, memory, load, entry, vcpus, priv, plain);
}

/* One guest (or the defaults) mapping. */
/* dump_keep: { count: N, bytes: SIZE, age: DURATION } */
static int parse_keep(struct ctx *c, yaml_node_t *v, const char *k, struct xg_dump_keep_cfg *keep)
{
	yaml_document_t *d = c->doc;
	int rc = 0;

	if (want_map(c, v, k))
		return -1;
	for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
	     q < v->data.mapping.pairs.top && !rc; q++) {
		yaml_node_t *kk = yaml_document_get_node(d, q->key);
		yaml_node_t *vv = yaml_document_get_node(d, q->value);
		const char *s = scalar(kk) ? scalar(kk) : "?";

		if (!strcmp(s, "count"))
			rc = get_uint(c, vv, s, 0, &keep->count);
		else if (!strcmp(s, "bytes"))
			rc = get_uint(c, vv, s, 1, &keep->bytes);
		else if (!strcmp(s, "age"))
			rc = get_seconds(c, vv, s, &keep->age);
		else
			rc = fail(c, kk, "unknown key '%s' in '%s' (known: count, bytes, age)", s, k);
	}
	return rc;
}

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
			param_put(g->params);
			g->params = param_from(d, v, 1);
			if (!g->params)
				rc = fail(c, v, "out of memory reading params");
		} else if (!strcmp(k, "on_error")) {
			rc = get_str(c, v, k, &g->on_error);
		} else if (!strcmp(k, "dump_dir")) {
			rc = get_str(c, v, k, &g->dump_dir);
		} else if (!strcmp(k, "dump_max")) {
			rc = get_uint(c, v, k, 0, &g->dump_max);
		} else if (!strcmp(k, "dump_keep")) {
			rc = parse_keep(c, v, k, &g->dump_keep);
		} else if (!strcmp(k, "vm") && is_defaults) {
			rc = fail(c, kn,
				  "defaults.vm: vm belongs to a guest, not to defaults (each guest "
				  "is its own VM): move it under guests.<name>");
		} else if (!strcmp(k, "vm")) {
			rc = parse_vm(c, kn, v, g);
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
				else if (lim && !strcmp(s, "store_entries"))
					rc = get_uint(c, vv, s, 0, &g->store_entries);
				else if (lim && !strcmp(s, "store_key"))
					rc = get_uint(c, vv, s, 1, &g->store_key);
				else if (lim && !strcmp(s, "store_value"))
					rc = get_uint(c, vv, s, 1, &g->store_value);
				else if (lim && !strcmp(s, "time_ms"))
					rc = get_uint(c, vv, s, 0, &g->time_ms);
				else if (!lim && !strcmp(s, "logs_per_second"))
					rc = get_double(c, vv, s, &g->logs_per_second);
				else if (!lim && !strcmp(s, "burst"))
					rc = get_double(c, vv, s, &g->burst);
				else
					rc = fail(
					    c, kk, "unknown key '%s' in '%s' (known: %s)", s, k,
					    lim ? "instructions, memory, time_ms, store_entries, "
						  "store_key, store_value"
						: "logs_per_second, burst");
			}
			if (!rc && lim && g->instructions == 0)
				rc = fail(c, v, "'instructions' must be at least 1");
			if (!rc && lim && (g->time_ms == 0 || g->time_ms > 60000))
				rc = fail(c, v,
					  "'time_ms' must be 1..60000 (milliseconds per call)");
			if (!rc && lim && g->memory < (256u << 10))
				rc = fail(c, v,
					  "'memory' must be at least 256K (Lua itself needs it)");
			if (!rc && lim && (g->store_key == 0 || g->store_key > (64u << 10)))
				rc = fail(c, v, "'store_key' must be 1 .. 64K bytes");
			if (!rc && lim && g->store_value > g->memory)
				rc = fail(c, v,
					  "'store_value' must not be over 'memory' (the store "
					  "counts against it)");
		} else {
			rc = fail(c, kn,
				  "unknown key '%s' in %s '%s' (known: policy, params, limits, "
				  "on_error, dump_dir, rate_limit, dump_max, dump_keep%s)",
				  k, is_defaults ? "section" : "guest",
				  is_defaults ? "defaults" : g->name, is_defaults ? "" : ", vm");
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
	param_put(g->params);
	vm_clear(&g->vm);
	memset(g, 0, sizeof(*g));
}

static void inherit(struct xg_guest_cfg *g, const struct xg_guest_cfg *d)
{
	g->policy = xstrdup(d->policy);
	g->params = d->params; /* shared, not copied: params never change */
	if (g->params)
		g->params->refs++;
	g->instructions = d->instructions;
	g->memory = d->memory;
	g->store_entries = d->store_entries;
	g->store_key = d->store_key;
	g->store_value = d->store_value;
	g->time_ms = d->time_ms;
	g->on_error = xstrdup(d->on_error);
	g->dump_dir = xstrdup(d->dump_dir);
	g->logs_per_second = d->logs_per_second;
	g->burst = d->burst;
	g->dump_max = d->dump_max;
	g->dump_keep = d->dump_keep;
}

/* YAML 1.2 (3.2.1.1) requires the keys of a mapping to be unique; libyaml does not check
 * it, and a key given twice (two `policy:` lines) would silently take its last value. Each
 * mapping node once, from the document's node array (aliases are not walked again); its
 * scalar keys sorted, so a mapping of n keys costs n log n. */
struct key_at {
	const char *s;
	yaml_node_t *n;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key_at *x = a, *y = b;
	int d = strcmp(x->s, y->s);

	if (d)
		return d;
	return x->n->start_mark.index < y->n->start_mark.index ? -1
	       : x->n->start_mark.index > y->n->start_mark.index;
}

static int unique_keys(struct ctx *c)
{
	yaml_document_t *d = c->doc;
	struct key_at *k = NULL;
	size_t cap = 0;
	int rc = 0;

	for (yaml_node_t *m = d->nodes.start; !rc && m < d->nodes.top; m++) {
		size_t n = 0;

		if (m->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
		     p++) {
			yaml_node_t *kn = yaml_document_get_node(d, p->key);
			if (!kn || kn->type != YAML_SCALAR_NODE)
				continue;
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 16;
				struct key_at *nk = realloc(k, nc * sizeof(*k));
				if (!nk) {
					free(k);
					return fail(c, m, "out of memory");
				}
				k = nk;
				cap = nc;
			}
			k[n].s = (const char *)kn->data.scalar.value;
			k[n++].n = kn;
		}
		if (n > 1)
			qsort(k, n, sizeof(*k), key_cmp);
		for (size_t i = 1; !rc && i < n; i++)
			if (!strcmp(k[i - 1].s, k[i].s))
				rc = fail(c, k[i].n,
					  "key '%s' is given twice in one mapping (first at line %zu): "
					  "keys must be unique (YAML 1.2 3.2.1.1), or the last would "
					  "silently win; keep one",
					  k[i].s, k[i - 1].n->start_mark.line + 1);
	}
	free(k);
	return rc;
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
	cfg->defaults.store_entries = XG_DEFAULT_STORE_ENTRIES;
	cfg->defaults.store_key = XG_DEFAULT_STORE_KEY;
	cfg->defaults.store_value = XG_DEFAULT_STORE_VALUE;
	cfg->defaults.time_ms = XG_DEFAULT_TIME_MS;
	cfg->defaults.on_error = strdup(XG_DEFAULT_ON_ERROR);
	cfg->defaults.logs_per_second = 5;
	cfg->defaults.burst = 20;
	cfg->defaults.dump_max = XG_DEFAULT_DUMP_MAX;
	cfg->defaults.dump_keep.count = XG_DEFAULT_DUMP_KEEP;
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
	if (len > XG_CONFIG_MAX_FILE) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: larger than %u MiB, the limit for a configuration: is it the right "
			 "file?",
			 name ? name : "<config>", XG_CONFIG_MAX_FILE >> 20);
		free(cfg);
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
	if (check_limits(&c, text, len)) {
		/* the message is set */
	} else if (!yaml_parser_load(&parser, &doc)) {
		/* libyaml: the context ("while parsing a flow sequence", "found duplicate anchor;
		 * first occurrence") is where it began, the problem is what is wrong here */
		char ctx[160] = "";
		if (parser.context)
			snprintf(ctx, sizeof(ctx), "%s (at %zu:%zu): ", parser.context,
				 parser.context_mark.line + 1, parser.context_mark.column + 1);
		snprintf(err->msg, sizeof(err->msg), "%s:%zu:%zu: YAML error: %s%s", cfg->name,
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1, ctx,
			 parser.problem ? parser.problem : "not YAML");
	} else {
		/* after parse_doc, whose own messages say more (a guest defined twice) */
		rc = parse_doc(&c);
		if (!rc)
			rc = unique_keys(&c);
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
	char *text = NULL, *dir, *slash;
	size_t len = 0;
	struct xg_config *cfg;

	if (xg_file_read(path, "configuration", XG_CONFIG_MAX_FILE, &text, &len, err))
		return NULL;
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

/* ---- where a guest's payload is ---- */

/* 1 for a regular file; 0 otherwise, and what it is in *kind when it exists (a device, a
 * directory, a FIFO) unless an earlier candidate already said. */
static int file_exists(const char *p, const char **kind, char *kind_path, size_t n)
{
	struct stat st;

	if (stat(p, &st))
		return 0;
	if (S_ISREG(st.st_mode))
		return 1;
	if (!*kind) {
		*kind = xg_file_kind(st.st_mode);
		snprintf(kind_path, n, "%s", p);
	}
	return 0;
}

/* The payload: as written if absolute; else next to the config, then in $XG_GUEST_PATH
 * (colon-separated), the build's guests and the installed ones. */
int xg_config_find_payload(const char *base_dir, const char *p, char *out, size_t n,
			   struct xg_error *err)
{
	const char *dirs[8];
	char looked[600] = "", kind_path[300] = "";
	const char *kind = NULL;
	char *env = getenv("XG_GUEST_PATH") ? strdup(getenv("XG_GUEST_PATH")) : NULL, *save = NULL;
	int nd = 0, found = 0;

	if (p[0] == '/') {
		snprintf(out, n, "%s", p);
		found = file_exists(out, &kind, kind_path, sizeof(kind_path));
		snprintf(looked, sizeof(looked), "%s", p);
		goto done;
	}
	dirs[nd++] = base_dir ? base_dir : ".";
	for (char *t = env ? strtok_r(env, ":", &save) : NULL; t && nd < 5;
	     t = strtok_r(NULL, ":", &save))
		dirs[nd++] = t;
	dirs[nd++] = XG_BUILD_GUEST_DIR;
	dirs[nd++] = XG_INSTALL_GUEST_DIR;
	for (int i = 0; i < nd && !found; i++) {
		size_t l = strlen(looked);
		snprintf(out, n, "%s/%s", dirs[i], p);
		found = file_exists(out, &kind, kind_path, sizeof(kind_path));
		snprintf(looked + l, sizeof(looked) - l, "%s%s", l ? ", " : "", dirs[i]);
	}
done:
	free(env);
	if (!found && kind)
		snprintf(err->msg, sizeof(err->msg), "payload '%s': %s is %s; name a file", p,
			 kind_path, kind);
	else if (!found)
		snprintf(err->msg, sizeof(err->msg),
			 "payload '%.120s' not found (looked in: %.250s); build the guests with "
			 "`cmake --build build` or give an absolute path",
			 p, looked);
	return found ? 0 : -1;
}
