/*
 * t_noalloc.c - the exit path allocates nothing (DESIGN.md: "Nothing allocates on the fast
 * path"): a real /dev/kvm guest makes emulation-failure exits (`vmovdqu (%rax),%ymm0` on an
 * MMIO window, the exit bench_run measures) and every one goes through xg_handle_exit and
 * exitgate's emulator. After a warm-up, the allocations of N more exits are counted with a
 * counting allocator (tests/alloc_count.h: malloc, calloc, realloc, aligned forms; the
 * policy state's Lua allocator counted on its own too) and must be zero, for a verdict from
 * the cache and for a trivial Lua policy called on every exit. The same runs check two more
 * costs of the path: the guest's page tables are walked once per access (the emulator's
 * translate stage and its read share the walk: 4 reads of guest RAM in long mode, not 8),
 * and the per-exit profile (xg_vcpu_set_profile) sees every exit and gives the ops back.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../alloc_count.h"
#include "backend/kvm/xg_kvm.h"
#include "engine/engine_int.h"
#include "exitgate.h"
#include "tap.h"

#define WARM  64  /* exits before counting: the first fill the cache, the Lua stack ... */
#define COUNT 400 /* exits counted */

/* At XG_KVM_LOAD_ADDR, 64-bit, RCX = loads: RAX = XG_KVM_MMIO_BASE, then RCX times
 * `vmovdqu (%rax),%ymm0` (c5 fe 6f 00), then HLT. */
static const uint8_t guest[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /*     mov $0xd0000000,%eax */
    0xc5, 0xfe, 0x6f, 0x00,	  /* 1:  vmovdqu (%rax),%ymm0 */
    0x48, 0xff, 0xc9,		  /*     dec %rcx             */
    0x75, 0xf7,			  /*     jne 1b               */
    0xf4,			  /*     hlt                  */
};

/* The same with two instructions: `vmovdqu (%rax),%ymm0`, then twice in a loop of its own
 * `vmovdqu (%rax),%ymm1` (c5 fe 6f 08): its second exit repeats its first (same RIP, so the
 * same 15 bytes KVM fetched), after an exit of the other. */
static const uint8_t guest_abb[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /*     mov $0xd0000000,%eax */
    0xc5, 0xfe, 0x6f, 0x00,	  /* 1:  vmovdqu (%rax),%ymm0 */
    0xba, 0x02, 0x00, 0x00, 0x00, /*     mov $2,%edx          */
    0xc5, 0xfe, 0x6f, 0x08,	  /* 2:  vmovdqu (%rax),%ymm1 */
    0xff, 0xca,			  /*     dec %edx             */
    0x75, 0xf8,			  /*     jne 2b               */
    0x48, 0xff, 0xc9,		  /*     dec %rcx             */
    0x75, 0xea,			  /*     jne 1b               */
    0xf4,			  /*     hlt                  */
};

static uint64_t dev_reads;

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	dev_reads++;
	memset(buf, 0x5a, len);
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

/* The policy state's own allocator, wrapped to count what Lua asks of it. */
static struct {
	lua_Alloc f;
	void *ud;
	int on;
	uint64_t allocs, frees;
} lua_count;

static void *counting_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
	if (lua_count.on) {
		if (nsize)
			lua_count.allocs++;
		else if (p)
			lua_count.frees++;
	}
	return lua_count.f(ud, p, osize, nsize);
}

static void quiet(void *ud, const char *line)
{
}

/* The backend's read_gpa, counted: the page walks' reads of guest RAM. */
static int (*real_read_gpa)(void *o, uint64_t gpa, void *buf, size_t len);
static uint64_t ram_reads;

static int counting_read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	ram_reads++;
	return real_read_gpa(o, gpa, buf, len);
}

/* One run of the guest under `policy`: warm up, then count COUNT exits. */
static void run_policy(const char *label, const char *policy, int want_lua_calls, int none)
{
	char dir[] = "/tmp/xg-noalloc-XXXXXX", path[64];
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm = NULL;
	struct xg_kvm_vcpu *kv = NULL;
	struct kvm_regs regs;
	struct xg_vcpu_ops ops;
	xg_config *cfg = NULL;
	xg_engine *eng = NULL;
	xg_vcpu *v = NULL;
	struct kvm_run *run;
	size_t run_size;
	uint64_t exits = 0, allocs = 0, frees = 0;
	struct xg_stats st;
	lua_State *L;
	FILE *f;
	int rc = -1;

	if (!mkdtemp(dir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/p.lua", dir);
	f = fopen(path, "w");
	if (!f || fputs(policy, f) < 0 || fclose(f))
		bail("%s: %s", path, strerror(errno));
	if (xg_kvm_vm_create(&vm, NULL, &err) ||
	    xg_kvm_enable_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(vm, XG_KVM_LOAD_ADDR, guest, sizeof(guest), &err) ||
	    xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &kv, &err) ||
	    xg_kvm_get_regs(kv, &regs, &err))
		bail("%s: the guest: %s", label, err.msg);
	regs.rcx = WARM + COUNT;
	if (xg_kvm_set_regs(kv, &regs, &err))
		bail("%s: %s", label, err.msg);
	xg_kvm_vcpu_set_vmm(kv, &dev_ops, NULL);
	xg_kvm_vcpu_ops(kv, &ops);
	real_read_gpa = ops.read_gpa;
	ops.read_gpa = counting_read_gpa;
	run = xg_kvm_vcpu_run_area(kv, &run_size);
	cfg = xg_config_for_policy(path, &err);
	eng = cfg ? xg_engine_new(cfg, &err) : NULL;
	if (eng)
		xg_engine_set_log(eng, quiet, NULL);
	v = eng ? xg_vcpu_attach(eng, "default", 0, &ops, kv, &err) : NULL;
	if (!v)
		bail("%s: the engine: %s", label, err.msg);
	L = v->ls->L;
	lua_count.f = lua_getallocf(L, &lua_count.ud);
	lua_setallocf(L, counting_alloc, lua_count.ud); /* the engine finds its state by ud */
	dev_reads = 0;
	for (;;) {
		int r = xg_kvm_vcpu_run(kv);
		struct xg_result res;

		if (!r && run->exit_reason == KVM_EXIT_HLT) {
			rc = 0;
			break;
		}
		if (exits == WARM) {
			lua_count.on = 1;
			ram_reads = 0;
			alloc_count_start();
		}
		res = xg_handle_exit(v, run, run_size, r < 0 ? -r : 0);
		if (res.next != XG_NEXT_RUN || res.fail) {
			diag("%s: exit %llu: %s (%s)", label, (unsigned long long)exits,
			     xg_vcpu_last_error(v), xg_fail_name(res.fail));
			break;
		}
		exits++;
	}
	allocs = alloc_count_stop(&frees);
	lua_count.on = 0;
	xg_vcpu_stats(v, &st);
	ok(!rc && exits == WARM + COUNT && dev_reads == WARM + COUNT,
	   "%s: %d exits emulated, each load at the device", label, WARM + COUNT);
	is_int((long long)st.lua_calls, want_lua_calls ? WARM + COUNT : 1, "%s: Lua calls", label);
	if (!none)
		goto out;
	ok(ram_reads <= 4 * COUNT, "%s: one 4-level page walk per exit (%.1f guest RAM reads)",
	   label, (double)ram_reads / COUNT);
	if (!is_int((long long)allocs, 0, "%s: no malloc/calloc/realloc in %d exits", label, COUNT))
		diag("%s: %llu allocations, %llu frees: %.2f per exit", label,
		     (unsigned long long)allocs, (unsigned long long)frees, (double)allocs / COUNT);
	if (!is_int((long long)lua_count.allocs, 0, "%s: no Lua allocation in %d exits", label,
		    COUNT))
		diag("%s: Lua allocated %llu times, freed %llu", label,
		     (unsigned long long)lua_count.allocs, (unsigned long long)lua_count.frees);
out:
	lua_setallocf(L, lua_count.f, lua_count.ud);
	lua_count.allocs = lua_count.frees = 0;
	xg_vcpu_detach(v);
	xg_engine_free(eng);
	xg_config_free(cfg);
	xg_kvm_vm_destroy(vm);
	unlink(path);
	rmdir(dir);
}

/* A profile on a cached run: every exit counted, the phases the path goes through timed,
 * the vCPU's ops given back as they were when it is taken off. Unprofiled, the same run
 * (profiled 0) goes through the engine's lane for a repeated cached emulate (engine.c,
 * repeat_emulate) where the profiled one takes the general path: *st, the vCPU's counts. */
static void profile_check(const char *policy, const uint8_t *code, size_t code_len, int profiled,
			  struct xg_stats *st)
{
	char dir[] = "/tmp/xg-noalloc-XXXXXX", path[64];
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm = NULL;
	struct xg_kvm_vcpu *kv = NULL;
	struct xg_profile prof;
	struct kvm_regs regs;
	struct xg_vcpu_ops ops;
	struct kvm_run *run;
	size_t run_size;
	xg_config *cfg;
	xg_engine *eng;
	xg_vcpu *v;
	uint64_t exits = 0;
	FILE *f;

	if (!mkdtemp(dir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/p.lua", dir);
	f = fopen(path, "w");
	if (!f || fputs(policy, f) < 0 || fclose(f))
		bail("%s: %s", path, strerror(errno));
	if (xg_kvm_vm_create(&vm, NULL, &err) ||
	    xg_kvm_enable_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(vm, XG_KVM_LOAD_ADDR, code, code_len, &err) ||
	    xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &kv, &err) ||
	    xg_kvm_get_regs(kv, &regs, &err))
		bail("profile: the guest: %s", err.msg);
	regs.rcx = 50;
	if (xg_kvm_set_regs(kv, &regs, &err))
		bail("profile: %s", err.msg);
	xg_kvm_vcpu_set_vmm(kv, &dev_ops, NULL);
	xg_kvm_vcpu_ops(kv, &ops);
	run = xg_kvm_vcpu_run_area(kv, &run_size);
	cfg = xg_config_for_policy(path, &err);
	eng = cfg ? xg_engine_new(cfg, &err) : NULL;
	if (eng)
		xg_engine_set_log(eng, quiet, NULL); /* the dumps, logged */
	v = eng ? xg_vcpu_attach(eng, "default", 0, &ops, kv, &err) : NULL;
	if (!v)
		bail("profile: the engine: %s", err.msg);
	memset(&prof, 0, sizeof(prof));
	if (profiled) {
		xg_vcpu_set_profile(v, &prof);
		xg_kvm_vcpu_set_profile(kv, &prof);
	}
	for (;;) {
		int r = xg_kvm_vcpu_run(kv);
		if (!r && run->exit_reason == KVM_EXIT_HLT)
			break;
		if (xg_handle_exit(v, run, run_size, r < 0 ? -r : 0).next != XG_NEXT_RUN)
			break;
		exits++;
	}
	xg_vcpu_stats(v, st);
	if (!profiled || code != guest)
		goto out;
	xg_vcpu_set_profile(v, NULL);
	xg_kvm_vcpu_set_profile(kv, NULL);
	is_int((long long)prof.exits, (long long)exits, "profile: every exit profiled (%llu)",
	       (unsigned long long)exits);
	ok(prof.ns[XG_PROF_DECODE] && prof.ns[XG_PROF_LOOKUP] && prof.ns[XG_PROF_LUA] &&
	       prof.ns[XG_PROF_FETCH] && prof.ns[XG_PROF_EMULATE] && prof.ns[XG_PROF_DEVICE] &&
	       prof.ns[XG_PROF_WRITEBACK] && prof.ns[XG_PROF_IOCTL],
	   "profile: decode, lookup, lua, fetch, emulate, device, writeback and ioctl timed");
	ok(v->opaque == (void *)kv && v->ops.get_xsave == ops.get_xsave &&
	       v->ops.mmio_read == ops.mmio_read && !v->prof,
	   "profile: off again, the vCPU has its own ops back");
out:
	xg_vcpu_detach(v);
	xg_engine_free(eng);
	xg_config_free(cfg);
	xg_kvm_vm_destroy(vm);
	unlink(path);
	rmdir(dir);
}

/* The same run unprofiled (the engine's lane where it applies) and profiled (its general
 * path always): the vCPU's counts must be the same. */
static void lane_check(const char *what, const char *policy, const uint8_t *code, size_t len)
{
	struct xg_stats a, b;

	profile_check(policy, code, len, 1, &a);
	profile_check(policy, code, len, 0, &b);
	a.lua_ns = b.lua_ns = 0; /* time */
	if (!ok(!memcmp(&a, &b, sizeof(a)) && b.emulated_memo > 0,
		"%s counted alike by the engine's lane (unprofiled) and its general path "
		"(profiled): exits %llu, cache hits %llu, Lua calls %llu, dumps %llu, emulated "
		"%llu, by the memo %llu",
		what, (unsigned long long)b.exits, (unsigned long long)b.cache_hits,
		(unsigned long long)b.lua_calls, (unsigned long long)b.dumps,
		(unsigned long long)b.emulated, (unsigned long long)b.emulated_memo))
		diag("profiled: exits %llu, cache hits %llu, misses %llu, Lua calls %llu, dumps "
		     "%llu, emulate verdicts %llu, emulated %llu, memo %llu",
		     (unsigned long long)a.exits, (unsigned long long)a.cache_hits,
		     (unsigned long long)a.cache_misses, (unsigned long long)a.lua_calls,
		     (unsigned long long)a.dumps,
		     (unsigned long long)a.verdicts[XG_VERDICT_EMULATE],
		     (unsigned long long)a.emulated, (unsigned long long)a.emulated_memo);
}

int main(void)
{
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	plan(26);
	run_policy("cached verdict",
		   "local xg = require 'exitgate'\n"
		   "return { emulation_failure = function(e) "
		   "return xg.cache(xg.emulate(), 'insn') end }\n",
		   0, 1);
	run_policy("Lua policy",
		   "local xg = require 'exitgate'\n"
		   "return { emulation_failure = function(e) return xg.emulate() end }\n",
		   1, 1);
	/* a shape this exit lacks (an emulation failure has no MMIO access to key on): not
	 * cached, so the handler runs on every exit, and xg.cache hands out the same table */
	run_policy("cached verdict the cache cannot keep",
		   "local xg = require 'exitgate'\n"
		   "return { emulation_failure = function(e) "
		   "return xg.cache(xg.emulate(), 'mmio') end }\n",
		   1, 1);
	/* the shared verdict table a no-argument verdict returns (exitgate.lua) is never
	 * handed out changed: a changed one is replaced, xg.cache leaves it alone */
	run_policy("changed shared verdicts",
		   "local xg = require 'exitgate'\n"
		   "return { emulation_failure = function(e)\n"
		   "  local a = xg.emulate(); a.note = 'mine'\n"
		   "  local b = xg.emulate()\n"
		   "  if b == a or b.note ~= nil or next(b, 'verdict') ~= nil then\n"
		   "    return xg.stop 'a changed verdict was handed out again' end\n"
		   "  local c = xg.cache(b, 'kind')\n"
		   "  if c == b or b.cache ~= nil or c.cache ~= 'kind' or xg.emulate() ~= b then\n"
		   "    return xg.stop 'xg.cache changed the shared verdict' end\n"
		   "  local s = xg.skip(); s.verdict = 'emulate'\n"
		   "  if xg.skip().verdict ~= 'skip' then return xg.stop 'skip changed' end\n"
		   /* xg.cache of a shared verdict: one table per kind and shape, a new one once
		    * it was changed in any way */
		   "  local c1 = xg.cache(xg.emulate(), 'mmio')\n"
		   "  if xg.cache(xg.emulate(), 'mmio') ~= c1 or c1.verdict ~= 'emulate' or\n"
		   "     c1.cache ~= 'mmio' or xg.cache(xg.emulate(), 'port') == c1 or\n"
		   "     xg.cache(xg.skip(), 'mmio') == c1 then\n"
		   "    return xg.stop 'xg.cache: not one table per kind and shape' end\n"
		   "  c1.note = 'mine'\n"
		   "  local c2 = xg.cache(xg.emulate(), 'mmio')\n"
		   "  c2.cache = 'kind'\n"
		   "  local c3 = xg.cache(xg.emulate(), 'mmio')\n"
		   "  c3.verdict = 'skip'\n"
		   "  local c4 = xg.cache(xg.emulate(), 'mmio')\n"
		   "  setmetatable(c4, {})\n"
		   "  local c5 = xg.cache(xg.emulate(), 'mmio')\n"
		   "  c5.cache = nil\n"
		   "  local c6 = xg.cache(xg.emulate(), 'mmio')\n"
		   "  if c2 == c1 or c3 == c2 or c4 == c3 or c5 == c4 or c6 == c5 or\n"
		   "     c6.verdict ~= 'emulate' or c6.cache ~= 'mmio' or c6.note ~= nil or\n"
		   "     getmetatable(c6) ~= nil then\n"
		   "    return xg.stop 'xg.cache handed out a changed cached verdict again' end\n"
		   "  return xg.emulate()\n"
		   "end }\n",
		   1, 0);
	lane_check("a repeated cached emulate",
		   "local xg = require 'exitgate'\n"
		   "return { emulation_failure = function(e) return xg.cache(xg.emulate(), 'insn') "
		   "end }\n",
		   guest, sizeof(guest));
	/* a cached emulate that also dumps is not the lane's: each exit writes its dump */
	lane_check("a repeated cached emulate with a dump",
		   "local xg = require 'exitgate'\n"
		   "return { emulation_failure = function(e) "
		   "return xg.cache(xg.dump { xg.emulate(), note = 'lane' }, 'insn') end }\n",
		   guest, sizeof(guest));
	/* ymm0's load cached, ymm1's not: the repeat of ymm1's exit after the cache missed it
	 * must call the handler again, whatever the cache answered for the exit before */
	lane_check("a cached exit, then a repeated one the cache misses",
		   "local xg = require 'exitgate'\n"
		   "return { emulation_failure = function(e)\n"
		   "  if e.insn.bytes:byte(4) == 0 then return xg.cache(xg.emulate(), 'insn') end\n"
		   "  return xg.emulate()\n"
		   "end }\n",
		   guest_abb, sizeof(guest_abb));
	return done_testing();
}
