/*
 * fuzz_config.c - libFuzzer target over the configuration loader (core/config/config.c) and
 * the pushing of params into a Lua state (core/engine/params.c): everything a config's
 * author controls, up to the policy itself.
 *
 * The input is a YAML text, parsed as fuzz.yaml in a directory holding p.lua (so configs that
 * name it load, and their params reach Lua). The target aborts (a finding) when a promise is
 * broken:
 *   - a refused config has a message naming the file ("fuzz.yaml:...");
 *   - a loaded config's params are never deeper than XG_CONFIG_MAX_DEPTH, never more than
 *     XG_CONFIG_MAX_NODES nodes or XG_CONFIG_MAX_BYTES of text per guest;
 *   - pushing them into a fresh Lua state leaves exactly one value (or a message): a table
 *     of the tree's shape (no more nodes, no deeper; duplicate keys collapse) or the scalar.
 * AddressSanitizer, UBSan, libFuzzer's -rss_limit_mb and -timeout catch the rest (a crash,
 * a stack overflow, a bloat, a hang). Build: see tests/fuzz/CMakeLists.txt.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "engine/engine_int.h"

static char dir[64];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void setup(void)
{
	char path[128];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/xg-fuzz-config-XXXXXX");
	check(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/p.lua", dir);
	f = fopen(path, "w");
	check(f != NULL);
	fputs("return {}\n", f);
	fclose(f);
}

struct shape {
	size_t nodes, bytes;
	int depth;
};

static void measure(const struct xg_param *p, int depth, struct shape *s)
{
	for (; p; p = p->next) {
		s->nodes++;
		s->bytes += (p->key ? strlen(p->key) : 0) + (p->value ? strlen(p->value) : 0);
		if (p->type != XG_PARAM_SCALAR) {
			if (depth > s->depth)
				s->depth = depth;
			measure(p->child, depth + 1, s);
		}
	}
}

/* The Lua value at the top: nodes and table depth, as measure() counts the tree. */
static void measure_lua(lua_State *L, int depth, struct shape *s)
{
	s->nodes++;
	if (!lua_istable(L, -1))
		return;
	if (depth > s->depth)
		s->depth = depth;
	check(lua_checkstack(L, 3));
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		measure_lua(L, depth + 1, s);
		lua_pop(L, 1);
	}
}

static void push(const struct xg_param *p)
{
	lua_State *L = luaL_newstate();
	struct shape tree = {0}, lua = {0};
	char msg[256];

	check(L != NULL);
	if (xg_params_push(L, p, msg, sizeof(msg)) == 0) {
		check(lua_gettop(L) == 1);
		check(lua_istable(L, 1) == (!p || p->type != XG_PARAM_SCALAR));
		if (p) {
			measure(p, 1, &tree);
			measure_lua(L, 1, &lua);
			/* a map's duplicate keys collapse into one Lua field */
			check(lua.nodes <= tree.nodes && lua.depth <= tree.depth);
		}
	} else {
		check(lua_gettop(L) == 0 && msg[0]);
	}
	lua_close(L);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xg_error err;
	xg_config *c;

	if (!dir[0])
		setup();
	memset(&err, 0, sizeof(err));
	c = xg_config_parse((const char *)data, size, "fuzz.yaml", dir, &err);
	if (!c) {
		check(!strncmp(err.msg, "fuzz.yaml:", 10));
		return 0;
	}
	for (size_t i = 0; i <= c->n; i++) {
		const struct xg_guest_cfg *g = i < c->n ? &c->guests[i] : &c->defaults;
		struct shape s = {0};

		measure(g->params, 1, &s);
		check(s.depth <= XG_CONFIG_MAX_DEPTH && s.nodes <= XG_CONFIG_MAX_NODES &&
		      s.bytes <= XG_CONFIG_MAX_BYTES);
		push(g->params);
	}
	xg_config_free(c);
	return 0;
}
