/*
 * exit_lua.h - the Lua form of a decoded exit.
 *
 * A policy receives the exit as a read-only proxy (a userdata with __index, __pairs,
 * __tostring and __len-free semantics) over the C view, not as a table filled field by
 * field: building the common exits costs no allocation and no field is computed unless
 * the policy reads it. Nested parts (`e.insn`, `e.hw`, `e.iss` ...) are proxies too;
 * arrays and byte strings become Lua tables/strings when read.
 *
 * One root proxy per lua_State is reused for every exit (xg_exit_lua_push swaps the view
 * and bumps a generation). After the handler returns, the engine calls xg_exit_lua_expire:
 * from then on any use of that object, or of a nested proxy taken from it - a policy that
 * stashed it in a global and reads it from a timer or a coroutine - raises "exit object
 * used after its handler returned". The root object itself is the next exit's object too:
 * a stashed root read during a later handler shows that handler's exit (never freed or
 * stale memory); nested proxies (e.insn, e.hw ...) stay dead for good. Writes raise "exit
 * objects are read-only".
 *
 * Lazy extras (disassembly, registers, memory) are the engine's: it registers a fallback
 * __index function with xg_exit_lua_set_fallback; unknown field names go there (with the
 * exit object and the key). A name neither has (e.idx on an io exit) is an error that names
 * the exit's kind and lists its fields; a field of the kind that this exit leaves out is nil.
 *
 * e:totable() returns a plain, deep Lua table copy of every field (for stashing, printing
 * or serialising); pairs(e) walks the same fields in order.
 */
#ifndef XG_EXIT_LUA_H
#define XG_EXIT_LUA_H

#include <lua.h>

#include "exitgate.h"

/* The state's exit object as the engine holds it between calls (it lives as long as L). */
struct xg_exit_lua;

/* Register the metatables in L and make the state's exit object (once per state;
 * idempotent: later calls return the same handle). */
struct xg_exit_lua *xg_exit_lua_open(lua_State *L);

/* Push the state's exit object, now showing *x. *x must stay valid until expire. The
 * _view forms take the handle from xg_exit_lua_open and look nothing up (the per-exit
 * path); the others find it in L's registry. */
void xg_exit_lua_push_view(lua_State *L, struct xg_exit_lua *h, const struct xg_exit *x);
void xg_exit_lua_push(lua_State *L, const struct xg_exit *x);
/* push_view in two halves, for a caller that keeps the exit object on its stack: the
 * object now shows *x (set_view); the object itself, whatever it shows (push_object). */
void xg_exit_lua_set_view(struct xg_exit_lua *h, const struct xg_exit *x);
void xg_exit_lua_push_object(lua_State *L, struct xg_exit_lua *h);

/* Detach the current view: every later access through any proxy of it errors. */
void xg_exit_lua_end_view(struct xg_exit_lua *h);
void xg_exit_lua_expire(lua_State *L);

/* For tests: as if n more views had been pushed and ended (the generation moves on). */
void xg_exit_lua_skip(struct xg_exit_lua *h, uint64_t n);

/* The view behind the exit object at index idx, or NULL if idx is not a live exit object. */
const struct xg_exit *xg_exit_lua_check(lua_State *L, int idx);

/* Push a plain deep table with every field of *x (no proxy, no expiry). */
void xg_exit_lua_push_table(lua_State *L, const struct xg_exit *x);

/* fn(L) is called for names the exit model does not have, with (exit, key) on the stack;
 * it returns 1 with the value pushed, 0 for nil (a name it knows, with no value for this
 * exit), or -1 for a name it does not know either: reading it raises an error naming the
 * exit's kind and its fields. NULL removes the fallback. */
typedef int (*xg_exit_lua_fallback)(lua_State *L);
void xg_exit_lua_set_fallback(lua_State *L, xg_exit_lua_fallback fn);
/* The names the fallback answers ("disasm, regs, errno"), for the error on an unknown name. */
void xg_exit_lua_set_fallback_names(lua_State *L, const char *names);

#endif
