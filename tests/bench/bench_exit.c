/*
 * bench_exit.c - ns per exit to build the exit model's forms, for the two exits a VMM sees
 * most among those exitgate handles: an emulation failure (the real flds one from
 * examples/exits) and an MMIO write. Measured in one run, best of 5 rounds:
 *   decode      kvm_run -> struct xg_exit (the C view)
 *   +proxy      decode, then the Lua form handed to a policy (reused proxy) and expired
 *   +read       the same, and Lua reads e.kind and e.insn.bytes / e.phys_addr, as a
 *               trivial policy would
 *   eager       decode, then a plain deep Lua table of every field (what the proxy avoids)
 * Usage: bench_exit [iterations]   (default 1000000)
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exit/exit_lua.h"
#include "exit/kvm_compat.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

struct ctx {
	lua_State *L;
	const uint8_t *run;
	struct xg_exit x;
	int read_ref;
};

enum mode { DECODE, PROXY, READ, EAGER };

static double measure(struct ctx *c, enum mode m, long n)
{
	static const struct xg_exit_opts o = {XG_ARCH_X86_64, XG_HW_AUTO};
	double best = 1e30;

	for (int round = 0; round < 5; round++) {
		double t0 = now();
		for (long i = 0; i < n; i++) {
			xg_exit_decode(&c->x, c->run, 4096, &o, NULL);
			if (m == PROXY) {
				xg_exit_lua_push(c->L, &c->x);
				lua_pop(c->L, 1);
				xg_exit_lua_expire(c->L);
			} else if (m == READ) {
				lua_rawgeti(c->L, LUA_REGISTRYINDEX, c->read_ref);
				xg_exit_lua_push(c->L, &c->x);
				lua_call(c->L, 1, 0);
				xg_exit_lua_expire(c->L);
			} else if (m == EAGER) {
				xg_exit_lua_push_table(c->L, &c->x);
				lua_pop(c->L, 1);
			}
		}
		double ns = (now() - t0) / n;
		if (ns < best)
			best = ns;
	}
	return best;
}

static void bench(const char *name, const uint8_t *run, const char *reader, long n)
{
	struct ctx c = {.run = run};

	c.L = luaL_newstate();
	luaL_openlibs(c.L);
	xg_exit_lua_open(c.L);
	if (luaL_loadstring(c.L, reader) || lua_pcall(c.L, 0, 1, 0)) {
		fprintf(stderr, "bench_exit: %s\n", lua_tostring(c.L, -1));
		exit(1);
	}
	c.read_ref = luaL_ref(c.L, LUA_REGISTRYINDEX);
	double d = measure(&c, DECODE, n);
	double p = measure(&c, PROXY, n);
	double r = measure(&c, READ, n);
	double e = measure(&c, EAGER, n / 10);
	printf("%-18s decode %6.1f ns   +proxy %6.1f ns   +read %6.1f ns   eager table %7.1f ns\n",
	       name, d, p, r, e);
	lua_close(c.L);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	static _Alignas(8) uint8_t emu[4096], mmio[4096];
	/* The real flds exit (examples/exits/flds-emulation-failure.hex). */
	static const uint8_t flds[] = {
		0x01, 0, 0, 0, 0x08, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0,
		0x0f, 0xd9, 0x00, 0xf4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x10, 0, 0, 0, 0, 0, 0,
	};
	union xg_run_union *u;

	emu[8] = 17;
	memcpy(emu + XG_RUN_UNION_OFFSET, flds, sizeof(flds));
	mmio[8] = 6;
	u = (union xg_run_union *)(mmio + XG_RUN_UNION_OFFSET);
	u->mmio.phys_addr = 0xd0000000;
	u->mmio.len = 4;
	u->mmio.is_write = 1;
	memcpy(u->mmio.data, "\x78\x56\x34\x12", 4);

	printf("exit model, %ld iterations, best of 5 (ns per exit)\n", n);
	bench("emulation_failure", emu,
	      "return function(e) local k, b = e.kind, e.insn.bytes end", n);
	bench("mmio", mmio, "return function(e) local k, a = e.kind, e.phys_addr end", n);
	return 0;
}
