/*
 * exit_lua.c - the Lua form of a decoded exit (see exit_lua.h).
 *
 * A proxy is a small userdata {root, generation, field table, base}. The root (one per
 * lua_State, anchored in the registry for the state's life) points at the current view
 * and counts generations; a proxy is live while its generation is the root's and the root
 * has a view. Field names resolve through one Lua table per field table, built on first
 * use: name -> position, position -> field descriptor, so a lookup is two raw table reads.
 */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "xg_hot.h"
#include "exit/exit_lua.h"
#include "exit/fields.h"

#define PROXY_MT "exitgate.exit"

/* The root is also the engine's handle on the state's exit object (struct xg_exit_lua):
 * it keeps the top-level proxy and its registry slot, so that binding an exit and pushing
 * the object per call is a few stores and one array read, with no lookup by key. */
struct xg_exit_lua {
	const struct xg_exit *x;
	/* 64 bits: bumped twice per exit, 32 would wrap after 2^31 exits (hours at the rates
	 * a busy vCPU reaches) and a proxy a policy kept from then would read as live */
	uint64_t gen;
	int ref; /* LUA_REGISTRYINDEX slot of top (an integer key: the registry's array) */
	struct proxy *top;
};

struct proxy {
	struct xg_exit_lua *root;
	uint64_t gen;
	const struct xg_fieldset *fs;
	const void *base;
};

static char root_key, maps_key, fallback_key, names_key;

static struct xg_exit_lua *get_root(lua_State *L)
{
	struct xg_exit_lua *r;

	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &root_key) == LUA_TUSERDATA) {
		r = lua_touserdata(L, -1);
		lua_pop(L, 1);
		return r;
	}
	lua_pop(L, 1);
	r = lua_newuserdatauv(L, sizeof(*r), 0);
	r->x = NULL;
	r->gen = 1;
	r->ref = LUA_NOREF;
	r->top = NULL;
	lua_rawsetp(L, LUA_REGISTRYINDEX, &root_key);
	return r;
}

static struct proxy *new_proxy(lua_State *L, struct xg_exit_lua *r, const struct xg_fieldset *fs,
			       const void *base)
{
	struct proxy *p = lua_newuserdatauv(L, sizeof(*p), 0);

	p->root = r;
	p->gen = r->gen;
	p->fs = fs;
	p->base = base;
	luaL_setmetatable(L, PROXY_MT);
	return p;
}

static struct proxy *live(lua_State *L, int idx)
{
	struct proxy *p = luaL_checkudata(L, idx, PROXY_MT);

	if (!p->root->x || p->gen != p->root->gen)
		luaL_error(L, "exit object used after its handler returned (keep e:totable() "
			      "instead of the exit itself)");
	return p;
}

static void add_fields(lua_State *L, const struct xg_fieldset *fs, int *n)
{
	if (fs->next)
		add_fields(L, fs->next, n);
	for (unsigned i = 0; i < fs->n; i++) {
		++*n;
		lua_pushinteger(L, *n);
		lua_setfield(L, -2, fs->f[i].name);
		lua_pushlightuserdata(L, (void *)&fs->f[i]);
		lua_rawseti(L, -2, *n);
	}
}

/* Push the name map of fs (building it on first use). */
static void push_map(lua_State *L, const struct xg_fieldset *fs)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &maps_key);
	if (lua_rawgetp(L, -1, fs) != LUA_TTABLE) {
		int n = 0;
		lua_pop(L, 1);
		lua_newtable(L);
		add_fields(L, fs, &n);
		lua_pushinteger(L, n);
		lua_setfield(L, -2, "#");
		lua_pushvalue(L, -1);
		lua_rawsetp(L, -3, fs);
	}
	lua_remove(L, -2);
}

static void push_field(lua_State *L, struct proxy *p, const struct xg_field *f)
{
	const void *v = (const char *)p->base + f->off;

	switch (f->type) {
	case XG_FT_STR:
		lua_pushstring(L, *(const char *const *)v);
		break;
	case XG_FT_CHARS:
		lua_pushstring(L, (const char *)v);
		break;
	case XG_FT_BOOL:
		lua_pushboolean(L, *(const uint8_t *)v);
		break;
	case XG_FT_BYTES:
		lua_pushlstring(L, v, xg_field_len(f, p->base));
		break;
	case XG_FT_BYTESP:
		lua_pushlstring(L, *(const char *const *)v, xg_field_len(f, p->base));
		break;
	case XG_FT_U64S: {
		const uint64_t *w = v;
		size_t n = xg_field_len(f, p->base);
		lua_createtable(L, (int)n, 0);
		for (size_t i = 0; i < n; i++) {
			lua_pushinteger(L, (lua_Integer)w[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	}
	case XG_FT_OBJ:
		new_proxy(L, p->root, f->aux, v);
		break;
	default:
		/* 64-bit values above 2^63 wrap to negative integers; Lua's %x and bitwise
		 * operators still see the same bits. */
		lua_pushinteger(L, (lua_Integer)xg_field_u64(f, p->base));
	}
}

static int l_totable(lua_State *L);

static void add_names(luaL_Buffer *b, const struct xg_fieldset *fs, int *first)
{
	if (fs->next)
		add_names(b, fs->next, first);
	for (unsigned i = 0; i < fs->n; i++) {
		if (!*first)
			luaL_addstring(b, ", ");
		*first = 0;
		luaL_addstring(b, fs->f[i].name);
	}
}

/*
 * A name the object does not have is a mistake in the policy (e.idx on an io exit, a typo),
 * not a nil to carry on with: it raises an error naming the kind and what it has. Fields
 * the kind has but this exit leaves out (an optional part) are nil, as before.
 */
static int no_such_field(lua_State *L, struct proxy *p)
{
	const struct xg_exit *x = p->root->x;
	int top = p->fs == xg_exit_fields(x), first = 1;
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	luaL_where(L, 1); /* the policy's line that read it */
	luaL_addvalue(&b);
	if (top)
		lua_pushfstring(L, "exit kind '%s' (%s) has no field '%s' (its fields: ", x->kind,
				x->name, lua_tostring(L, 2));
	else
		lua_pushfstring(L, "exit.%s of a '%s' exit has no field '%s' (its fields: ",
				p->fs->name, x->kind, lua_tostring(L, 2));
	luaL_addvalue(&b);
	add_names(&b, p->fs, &first);
	luaL_addstring(&b, ", totable");
	if (top && lua_rawgetp(L, LUA_REGISTRYINDEX, &names_key) == LUA_TSTRING) {
		luaL_addstring(&b, "; ");
		luaL_addvalue(&b);
	} else if (top) {
		lua_pop(L, 1);
	}
	luaL_addchar(&b, ')');
	luaL_pushresult(&b);
	return lua_error(L);
}

static int l_index(lua_State *L)
{
	struct proxy *p = live(L, 1);
	const struct xg_field *f;

	if (lua_type(L, 2) != LUA_TSTRING)
		return 0;
	push_map(L, p->fs);
	lua_pushvalue(L, 2);
	if (lua_rawget(L, -2) == LUA_TNUMBER) {
		lua_rawgeti(L, -2, lua_tointeger(L, -1));
		f = lua_touserdata(L, -1);
		lua_pop(L, 3);
		if (!xg_field_present(f, p->base))
			return 0;
		push_field(L, p, f);
		return 1;
	}
	lua_pop(L, 2);
	if (!strcmp(lua_tostring(L, 2), "totable")) {
		lua_pushcfunction(L, l_totable);
		return 1;
	}
	if (p->fs == xg_exit_fields(p->root->x) &&
	    lua_rawgetp(L, LUA_REGISTRYINDEX, &fallback_key) == LUA_TLIGHTUSERDATA) {
		xg_exit_lua_fallback fn = (xg_exit_lua_fallback)(uintptr_t)lua_touserdata(L, -1);
		int n;
		lua_pop(L, 1);
		lua_settop(L, 2);
		n = fn(L);
		if (n >= 0)
			return n ? 1 : 0;
		lua_settop(L, 2);
	}
	return no_such_field(L, p);
}

static int l_newindex(lua_State *L)
{
	return luaL_error(L, "exit objects are read-only (field '%s')", luaL_tolstring(L, 2, NULL));
}

/* pairs(e): field names in table order, skipping absent ones. */
static int l_next(lua_State *L)
{
	struct proxy *p = live(L, 1);
	lua_Integer i = 0, n;

	push_map(L, p->fs);
	if (!lua_isnil(L, 2)) {
		lua_pushvalue(L, 2);
		lua_rawget(L, -2);
		i = lua_tointeger(L, -1);
		lua_pop(L, 1);
	}
	lua_getfield(L, -1, "#");
	n = lua_tointeger(L, -1);
	lua_pop(L, 1);
	while (++i <= n) {
		lua_rawgeti(L, -1, i);
		const struct xg_field *f = lua_touserdata(L, -1);
		lua_pop(L, 1);
		if (!xg_field_present(f, p->base))
			continue;
		lua_pushstring(L, f->name);
		push_field(L, p, f);
		return 2;
	}
	return 0;
}

static int l_pairs(lua_State *L)
{
	live(L, 1);
	lua_pushcfunction(L, l_next);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

static int l_tostring(lua_State *L)
{
	struct proxy *p = luaL_checkudata(L, 1, PROXY_MT);

	if (!p->root->x || p->gen != p->root->gen)
		lua_pushstring(L, "exit (expired)");
	else if (p->fs == xg_exit_fields(p->root->x))
		lua_pushfstring(L, "exit %s (%s)", p->root->x->name, p->root->x->kind);
	else
		lua_pushfstring(L, "exit.%s", p->fs->name);
	return 1;
}

/* Deep plain-table copy of the object at (fs, base). */
static void push_plain(lua_State *L, struct proxy *tmpl, const struct xg_fieldset *fs,
		       const void *base, int top)
{
	struct proxy sub = *tmpl;

	if (top)
		lua_newtable(L);
	if (fs->next)
		push_plain(L, tmpl, fs->next, base, 0);
	sub.base = base;
	for (unsigned i = 0; i < fs->n; i++) {
		const struct xg_field *f = &fs->f[i];
		if (!xg_field_present(f, base))
			continue;
		if (f->type == XG_FT_OBJ)
			push_plain(L, tmpl, f->aux, (const char *)base + f->off, 1);
		else
			push_field(L, &sub, f);
		lua_setfield(L, -2, f->name);
	}
}

static int l_totable(lua_State *L)
{
	struct proxy *p = live(L, 1);

	push_plain(L, p, p->fs, p->base, 1);
	return 1;
}

struct xg_exit_lua *xg_exit_lua_open(lua_State *L)
{
	struct xg_exit_lua *r;
	static const luaL_Reg meta[] = {
		{"__index", l_index},
		{"__newindex", l_newindex},
		{"__pairs", l_pairs},
		{"__tostring", l_tostring},
		{NULL, NULL},
	};

	if (luaL_newmetatable(L, PROXY_MT)) {
		luaL_setfuncs(L, meta, 0);
		lua_pushliteral(L, "exit objects are read-only");
		lua_setfield(L, -2, "__metatable"); /* getmetatable(e) cannot reach the real one */
	}
	lua_pop(L, 1);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &maps_key) != LUA_TTABLE) {
		lua_newtable(L);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &maps_key);
	}
	lua_pop(L, 1);
	r = get_root(L);
	if (!r->top) {
		/* the one top-level exit object, made here so that no exit allocates it */
		r->top = new_proxy(L, r, NULL, NULL);
		r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	return r;
}

XG_HOT_LUA void xg_exit_lua_set_view(struct xg_exit_lua *r, const struct xg_exit *x)
{
	struct proxy *p = r->top;

	r->x = x;
	r->gen++;
	p->gen = r->gen;
	p->fs = xg_exit_fields(x);
	p->base = x;
}

void xg_exit_lua_push_object(lua_State *L, struct xg_exit_lua *r)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref);
}

void xg_exit_lua_push_view(lua_State *L, struct xg_exit_lua *r, const struct xg_exit *x)
{
	xg_exit_lua_set_view(r, x);
	xg_exit_lua_push_object(L, r);
}

XG_HOT_LUA void xg_exit_lua_end_view(struct xg_exit_lua *r)
{
	r->x = NULL;
	r->gen++;
}

void xg_exit_lua_skip(struct xg_exit_lua *r, uint64_t n)
{
	r->gen += n;
}

void xg_exit_lua_push(lua_State *L, const struct xg_exit *x)
{
	struct xg_exit_lua *r = get_root(L);

	xg_exit_lua_push_view(L, r->top ? r : xg_exit_lua_open(L), x);
}

void xg_exit_lua_expire(lua_State *L)
{
	xg_exit_lua_end_view(get_root(L));
}

const struct xg_exit *xg_exit_lua_check(lua_State *L, int idx)
{
	struct proxy *p = luaL_testudata(L, idx, PROXY_MT);

	if (!p || !p->root->x || p->gen != p->root->gen)
		return NULL;
	return p->root->x;
}

void xg_exit_lua_push_table(lua_State *L, const struct xg_exit *x)
{
	struct proxy tmpl = {get_root(L), 0, xg_exit_fields(x), x};

	push_plain(L, &tmpl, tmpl.fs, x, 1);
}

void xg_exit_lua_set_fallback(lua_State *L, xg_exit_lua_fallback fn)
{
	if (fn)
		lua_pushlightuserdata(L, (void *)(uintptr_t)fn);
	else
		lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &fallback_key);
}

void xg_exit_lua_set_fallback_names(lua_State *L, const char *names)
{
	if (names)
		lua_pushstring(L, names);
	else
		lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &names_key);
}
