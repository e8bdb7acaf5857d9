/*
 * params.c - a guest's params (config.h, struct xg_param) as Lua values: xg.params.
 *
 * The tree may nest up to XG_CONFIG_MAX_DEPTH levels, while a C function may count on only
 * LUA_MINSTACK free slots (Lua 5.4 manual, 4.1.1 "Stack Size"), so every level asks for its
 * slots with luaL_checkstack. The pushing runs in protected mode (lua_pcall): running out
 * of stack or memory is an error the caller reports, never a panic of the VMM. Plain
 * scalars that read as booleans or numbers become those; everything else is a string.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

static void push_scalar(lua_State *L, const struct xg_param *p)
{
	char *end;
	long long i;
	double d;

	if (p->plain && (!strcmp(p->value, "true") || !strcmp(p->value, "false"))) {
		lua_pushboolean(L, p->value[0] == 't');
		return;
	}
	if (p->plain && *p->value) {
		/* a hex numeral is an integer, wrapping past 2^63 as Lua's own hex literals do
		 * (Lua 5.4 manual 3.1): 0xffffffffffffffff is -1 (all ones), not a float that
		 * lost its low bits */
		if (p->value[0] == '0' && (p->value[1] == 'x' || p->value[1] == 'X')) {
			unsigned long long u;
			errno = 0;
			u = strtoull(p->value, &end, 16);
			if (end != p->value + 2 && !*end && !errno) {
				lua_pushinteger(L, (lua_Integer)u);
				return;
			}
		}
		/* YAML 1.2 core schema and Lua's tonumber: 017 is 17, 0o17 is octal */
		errno = 0;
		if (p->value[0] == '0' && p->value[1] == 'o' && p->value[2]) {
			i = strtoll(p->value + 2, &end, 8);
			if (!*end && !errno && p->value[2] != '-' && p->value[2] != '+') {
				lua_pushinteger(L, i);
				return;
			}
		}
		errno = 0;
		i = strtoll(p->value, &end, 10);
		if (!*end && !errno) {
			lua_pushinteger(L, i);
			return;
		}
		d = strtod(p->value, &end);
		if (!*end) {
			lua_pushnumber(L, d);
			return;
		}
	}
	lua_pushstring(L, p->value);
}

static void push_param(lua_State *L, const struct xg_param *p, int depth)
{
	lua_Integer n = 0;

	/* a table and a value on top of what the levels above hold */
	luaL_checkstack(L, 2, "params nest too deep for the Lua stack");
	if (p->type == XG_PARAM_SCALAR) {
		push_scalar(L, p);
		return;
	}
	if (depth > XG_CONFIG_MAX_DEPTH)
		luaL_error(L, "params nest deeper than %d levels", XG_CONFIG_MAX_DEPTH);
	lua_newtable(L);
	for (const struct xg_param *c = p->child; c; c = c->next) {
		push_param(L, c, depth + 1);
		if (p->type == XG_PARAM_SEQ)
			lua_rawseti(L, -2, ++n);
		else
			lua_setfield(L, -2, c->key ? c->key : "?");
	}
}

static int c_push_params(lua_State *L)
{
	const struct xg_param *p = lua_touserdata(L, 1);

	if (p)
		push_param(L, p, 1);
	else
		lua_newtable(L);
	return 1;
}

int xg_params_push(lua_State *L, const struct xg_param *p, char *msg, size_t n)
{
	if (!lua_checkstack(L, 2)) {
		snprintf(msg, n, "no Lua stack left for params");
		return -1;
	}
	lua_pushcfunction(L, c_push_params);
	lua_pushlightuserdata(L, (void *)p);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		snprintf(msg, n, "%s",
			 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}
