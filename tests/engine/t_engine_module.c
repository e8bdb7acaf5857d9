/*
 * t_engine_module.c - the exitgate module (lua/exitgate.lua) is compiled once per engine and
 * every Lua state loads that bytecode instead of parsing the text again (a third of the time
 * of making a state: reloads with many vCPUs make one per vCPU). A module that does not
 * compile is still reported with its file and line, from the text.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "engine/engine_int.h"
#include "engine_test.h"

static const char pol[] =
    "local xg = require 'exitgate'\n"
    "return { io = function(e) return xg.cache(xg.inject 'UD', 'port') end }\n";

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct run r;
	xg_engine *e;
	xg_vcpu *v;
	char dir[600];

	e = engine_with(pol, NULL, &err);
	if (!e)
		bail("%s", err.msg);
	ok(e->lua_bin && e->lua_bin_len > 4 && !memcmp(e->lua_bin, LUA_SIGNATURE, 4),
	   "the engine holds the module compiled (%zu bytes of bytecode from %zu of text)",
	   e->lua_bin_len, e->lua_len);
	v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
	ok(v != NULL, "a vCPU's state loads it");
	run_io(&r, 0x80, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	is_int(f.vector, 6, "and its policy answers through the module (#UD)");
	ok(xg_engine_reload(e, &err) == 0, "a reload makes states from it too");
	f.vector = -1;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	is_int(f.vector, 6, "which answer the same");
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* a module that does not compile: the text's error, with its line */
	snprintf(dir, sizeof(dir), "%s/lua", tdir());
	mkdir(dir, 0700);
	put_file("lua/exitgate.lua", "local M = {}\n\nreturn M +\n");
	setenv("XG_LUA_DIR", dir, 1);
	e = engine_with(pol, NULL, &err);
	ok(e == NULL, "a broken exitgate.lua is refused");
	like(err.msg, "exitgate.lua:4: unexpected symbol", "naming its line: %s", err.msg);
	xg_engine_free(e);
	unsetenv("XG_LUA_DIR");
	cleanup_dir();
	return done_testing();
}
