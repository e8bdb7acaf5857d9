/*
 * exit_test.h - helpers for the exit-model tests: build a kvm_run in a buffer, decode it,
 * and read fields of its Lua form by expression ("e.insn.bytes:byte(1)").
 */
#ifndef XG_EXIT_TEST_H
#define XG_EXIT_TEST_H

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "exit/exit_lua.h"
#include "exit/kvm_compat.h"
#include "tap.h"

#define RUN_SIZE 4096

struct run_buf {
	_Alignas(8) uint8_t b[RUN_SIZE];
};

static inline struct xg_run_head *head(struct run_buf *r)
{
	return (struct xg_run_head *)r->b;
}

static inline union xg_run_union *un(struct run_buf *r)
{
	return (union xg_run_union *)(r->b + XG_RUN_UNION_OFFSET);
}

static inline void run_init(struct run_buf *r, uint32_t reason)
{
	memset(r, 0, sizeof(*r));
	head(r)->exit_reason = reason;
}

/* Evaluate `return tostring(EXPR)` with the exit bound to global e; the result is kept in
 * a static buffer (or "error: ..."). */
static inline const char *lua_eval(lua_State *L, const char *expr)
{
	static char out[1024];
	char chunk[512];

	snprintf(chunk, sizeof(chunk), "local e = ...; return tostring(%s)", expr);
	if (luaL_loadstring(L, chunk) != LUA_OK) {
		snprintf(out, sizeof(out), "error: %s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return out;
	}
	lua_getglobal(L, "e");
	if (lua_pcall(L, 1, 1, 0) != LUA_OK)
		snprintf(out, sizeof(out), "error: %s", lua_tostring(L, -1));
	else
		snprintf(out, sizeof(out), "%s", lua_tostring(L, -1));
	lua_pop(L, 1);
	return out;
}

static inline lua_State *test_lua(void)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	xg_exit_lua_open(L);
	return L;
}

/* Bind a decoded exit to global e. */
static inline void lua_bind(lua_State *L, const struct xg_exit *x)
{
	xg_exit_lua_push(L, x);
	lua_setglobal(L, "e");
}

#endif
