/*
 * engine_int.h - the engine's rooms and how they share data.
 *
 *   sandbox.c  one bounded Lua state: allocator with a cap, instruction budget whose kill
 *              pcall cannot swallow, allow-listed globals, guarded string patterns, the
 *              `exitgate` module, the policy's handlers as registry refs, the call itself.
 *   verdict.c  verdict tables -> struct xg_verdict (validated), on_error text, applying a
 *              verdict through the VMM's ops, dumps.
 *   cache.c    the verdict cache (fixed size, per vCPU, no allocation).
 *   engine.c   engine, vCPUs, dispatch, stats, rate-limited log, reload and swap.
 *   watch.c    inotify and SIGHUP driving reloads.
 *   check.c    `exitgate check`: a policy loaded with a fake vCPU, fed synthetic exits.
 *   params.c   a guest's params (config.h) as Lua values, stack checked, in protected mode.
 */
#ifndef XG_ENGINE_INT_H
#define XG_ENGINE_INT_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "engine/arena.h"
#include "xg_counter.h"
#include "exitgate.h"
#include "emu/x86/xg_emu_x86.h" /* struct xg_emu_x86_memo */

/* Handler slots: one per exit reason number, then the kinds the decoder splits off. */
#define XG_SLOT_REASONS	  64
#define XG_SLOT_EMULATION (XG_SLOT_REASONS + 0)
#define XG_SLOT_UNKNOWN	  (XG_SLOT_REASONS + 1)
#define XG_SLOT_DEFAULT	  (XG_SLOT_REASONS + 2)
#define XG_SLOTS	  (XG_SLOT_REASONS + 3)

/* A validated verdict, as C applies it. */
struct xg_verdict {
	enum xg_verdict_kind kind;
	uint8_t dump;
	uint8_t has_error_code;
	uint8_t vector;
	uint8_t to_private;
	uint32_t error_code;
	uint64_t gpa, size;
	uint64_t value; /* msr */
	/* inject on arm64 (XG_A64_*): the synchronous exception, its DFSC and FAR; WnR
	 * when the policy gave it, else the exit's. On x86, far is the CR2 of a #PF when
	 * has_far (xg.inject("PF", {cr2 = ...})) */
	uint8_t a64, fsc, has_far, has_wnr, wnr;
	uint64_t far;
	char reason[96]; /* suspend/stop reason, or the dump note */
};
/* xg_verdict.a64 */
#define XG_A64_DATA_ABORT 1 /* xg.inject("data_abort", {fsc =, far =, wnr =}) */
#define XG_A64_UNDEFINED  2 /* xg.inject "undefined" */

/* Shapes of exits a cached verdict holds for. */
enum xg_cshape {
	XG_CSHAPE_NONE = 0,
	XG_CSHAPE_KIND,
	XG_CSHAPE_INSN,
	XG_CSHAPE_MMIO,
	XG_CSHAPE_PORT,
	XG_CSHAPE_MSR,
	XG_CSHAPE_GPA_PAGE,
	XG_CSHAPE_COUNT
};

struct xg_cache_key {
	uint32_t reason;
	uint8_t shape, len;
	uint16_t pad;
	const char *kind;
	uint8_t b[24];
};

#define XG_CACHE_SIZE 256
struct xg_cache_ent {
	struct xg_cache_key key;
	uint8_t used;
	struct xg_verdict v;
};

struct xg_cache {
	unsigned shapes; /* bit per shape in use */
	unsigned gen;	 /* changes with every store and clear: a lookup's answer stands until */
	struct xg_cache_ent e[XG_CACHE_SIZE];
};

int xg_cache_shape_from_name(const char *name);
const struct xg_verdict *xg_cache_lookup(struct xg_cache *c, const struct xg_exit *x);
/* Stores; returns 0, or -1 if the shape does not apply to this exit (nothing cached). */
int xg_cache_store(struct xg_cache *c, int shape, const struct xg_exit *x,
		   const struct xg_verdict *v);
/* Drops everything; returns the number of entries dropped. */
unsigned xg_cache_clear(struct xg_cache *c);

/* A token bucket for log lines: `burst` at once, then `rate` per second; what it refuses is
 * counted and reported in the next line it lets through. */
struct xg_logbucket {
	double tokens;
	uint64_t last_ns, suppressed;
};

#define XG_SHARED_MAX 6 /* no-argument verdicts lua/exitgate.lua builds once per state */

/* One Lua state with its bounds and the policy loaded in it. */
struct xg_lstate {
	/* What every call touches comes first, together (as in struct xg_vcpu; the struct is
	 * line aligned): each trip through KVM_RUN leaves the caches cold, and these fields
	 * were spread over 3 KiB, the handler slots and the check's fields at the far end. */
	lua_State *L;
	struct xg_vcpu *v; /* NULL for a check */
	const struct xg_exit *x;
	int in_call;
	int lifted;
	enum xg_fail killed;
	int mem_pending; /* a refused request not yet granted after a collection */
	/* instructions (and the work of C functions, charged as instructions) */
	uint64_t instructions; /* budget per call */
	uint64_t budget, spent;
	int step;
	int kvm_errno;
	const char *kill_in; /* the C function whose work went over the budget */
	/* time */
	uint64_t time_ns;	    /* per call (limits.time_ms) */
	uint64_t call_ns, deadline; /* this call's time; CLOCK_MONOTONIC_COARSE deadline */
	uint64_t cpu_mark, tick_ns; /* thread CPU time when the deadline was seen passed;
				       the coarse clock's resolution */
	uint64_t last_hook;	    /* CLOCK_MONOTONIC at the hook's last firing, 0: none */
	uint64_t t0, took_ns;	    /* CLOCK_MONOTONIC_COARSE when the call was armed; how
				       long the last call took, in whole ticks (lua_ns) */
	void *refused_ptr;	    /* the allocation refused last: refused again after Lua's
				       emergency collection, it is the memory kill */
	size_t refused_osize, refused_nsize;
	/* what every call pushes, held so that a call looks nothing up by key (sandbox.c) */
	struct xg_exit_lua *view; /* the state's reused exit object */
	int vcpu_ref;		  /* the vcpu object's registry slot */
	/* ...and kept on the main thread's stack once loaded (pin_stack): the message
	 * handler, the exit object and the vcpu object at XG_STK_*, then the handlers; each
	 * slot's handler at hidx[slot] (0: none); the stack's height between calls */
	int stack_base;
	unsigned char hidx[XG_SLOTS];
	/* the slot whose handler the last call ran (its kind's, else the default's): where[]
	 * names it in a dump (engine.c) and in exitgate check's failures (check.c), and
	 * xg_slot_of runs once per call */
	unsigned char called;
	/* exitgate check: the line of the handler's last `return` (0: none seen) */
	int trace_returns, return_line, cur_handler;
	/* the no-argument verdicts handed out again (xg.emulate() ...; sandbox.c): each
	 * table (NULL once one was assigned to: it is then out of sharing), its kind name
	 * string, kind and registry anchor; the metatables */
	int n_shared;
	const void *shared_t[XG_SHARED_MAX];
	const char *shared_name[XG_SHARED_MAX];
	enum xg_verdict_kind shared_kind[XG_SHARED_MAX];
	int shared_ref[XG_SHARED_MAX];
	int shared_mt_ref[XG_SHARED_MAX]; /* each kind's metatable (__index its {verdict=}) */
	int plain_mt_ref;		  /* the metatable of one taken out of sharing */
	const char *verdict_key; /* the interned string "verdict", anchored in the registry */
	/* memory */
	size_t used, limit;
	/* what the state allocates while it is built (arena.c); closed once it is */
	struct xg_arena arena;
	/* the policy */
	int handlers[XG_SLOTS];
	/* the rest */
	struct xg_engine *e;
	char where[XG_SLOTS][72]; /* "web.lua:12" of each handler */
	char chunk[96];		  /* policy file name as messages show it */
	char guest[64];
	int index;
	struct xg_verdict on_error;
	int on_error_default; /* the configuration's default (x86's #UD): arm64 exits get an
			       * external abort instead */
	char *dump_dir;
	int dump_dir_default; /* dump_dir is the engine's dump_default */
	uint64_t dump_max;
	struct xg_dump_keep_cfg dump_keep;
	double logs_per_second, burst;
	struct xg_logbucket logs; /* lines of a state with no vCPU (a check-load) */
	struct xg_store *store;	  /* the guest's xg.store, counted against `limit` */
	uint64_t store_entries, store_key, store_value;
	char *src; /* the policy text, to rebuild the state after a memory kill */
	size_t src_len;
	struct xg_lstate *next; /* graveyard */
};

struct xg_lstate *xg_lstate_new(struct xg_engine *e, const struct xg_guest_cfg *g, const char *src,
				size_t len, struct xg_vcpu *v, int index, struct xg_error *err);
/* The same in two parts (sandbox.c): a base no configuration decides, made ahead of need;
 * then guest g's policy loaded into it, once. xg_lstate_load frees ls when it fails. */
struct xg_lstate *xg_lstate_base(struct xg_engine *e, struct xg_error *err);
int xg_lstate_load(struct xg_lstate *ls, const struct xg_guest_cfg *g, const char *src, size_t len,
		   struct xg_vcpu *v, int index, struct xg_error *err);
void xg_lstate_free(struct xg_lstate *ls);
/* Compile e->lua_src once into e->lua_bin, which every state then loads instead of parsing
 * the text again (a third of a state's making). On any failure lua_bin stays NULL and the
 * states parse the text, reporting what is wrong with it. */
void xg_module_compile(struct xg_engine *e);

/* Call the handler for x. Returns XG_FAIL_NONE with *out filled (and *cache_shape set when
 * the policy asked for caching), or the failure with msg filled. */
enum xg_fail xg_lstate_call(struct xg_lstate *ls, const struct xg_exit *x, struct xg_verdict *out,
			    int *cache_shape, char *msg, size_t msg_size);
int xg_slot_of(const struct xg_exit *x);
/* The kind of verdict the value at idx is the shared table of (xg.emulate() ..., while
 * shared: it holds no key then, sandbox.c), or XG_VERDICT_NONE. L is a policy state's. */
enum xg_verdict_kind xg_lstate_shared_kind(lua_State *L, int idx);
/* Kind names a policy may write a handler for ("default" included); NULL-terminated. */
const char *const *xg_handler_names(void);

/* params.c: push the params tree as one value on L (a table; NULL: an empty one; `params: 5`
 * is the number), in protected mode; -1 with msg filled (nothing pushed) when the stack or
 * memory runs out. */
int xg_params_push(lua_State *L, const struct xg_param *p, char *msg, size_t n);

/* verdict.c */
/* xg.emulator.supports(e): the VMM's can_emulate, else exitgate's x86 or arm64 emulator (by
 * the exit's arch) through the vCPU's ops; 0 for a check (no vCPU). why says why not. */
int xg_vcpu_can_emulate(struct xg_vcpu *v, const struct xg_exit *x, char *why, size_t n);
int xg_verdict_from_lua(lua_State *L, int idx, struct xg_verdict *v, int *cache_shape, char *msg,
			size_t n);
int xg_verdict_parse_text(const char *text, struct xg_verdict *v, char *msg, size_t n);
enum xg_next xg_verdict_apply(struct xg_vcpu *v, const struct xg_exit *x,
			      const struct xg_verdict *vd, int *dumped, char *msg, size_t n);
/* `emulate` by exitgate's x86 emulator (with the vCPU's memo), counted: XG_NEXT_RUN, or
 * XG_NEXT_ERROR with msg */
enum xg_next xg_verdict_emulate_x86(struct xg_vcpu *v, const struct xg_exit *x, char *msg,
				    size_t n);

/*
 * A vCPU's counters: struct xg_stats word for word, written by the vCPU's thread alone (its
 * exits, the logs of its own states) and read by any thread while it runs (xg_vcpu_stats,
 * xg_engine_stats: `exitgate ctl`, the metrics, the progress line). Each word is a counter
 * of xg_counter.h: a reader sees each one whole and at most a few exits old, though not all
 * of them at one instant.
 */
struct xg_live_stats {
	_Atomic uint64_t w[sizeof(struct xg_stats) / sizeof(uint64_t)];
};
_Static_assert(sizeof(struct xg_live_stats) == sizeof(struct xg_stats),
	       "struct xg_stats is uint64_t counters and nothing else");

/* The word of struct xg_stats' field f (an array's first element: add the index). */
#define XG_ST(f) (offsetof(struct xg_stats, f) / sizeof(uint64_t))

/* On the writer's thread only. */
static inline void xg_st_add(struct xg_live_stats *s, size_t i, uint64_t n)
{
	xg_counter_add(&s->w[i], n);
}

/* Any thread: the counters as they are now. */
void xg_st_read(const struct xg_live_stats *s, struct xg_stats *out);

struct xg_vcpu {
	/* What every exit touches comes first, together (with the struct page aligned,
	 * xg_vcpu_attach): after each trip through KVM_RUN the caches and the TLB are cold,
	 * and every line and page the exit path touches costs. */
	struct xg_vcpu_ops ops;
	void *opaque;
	struct xg_lstate *ls;
	atomic_int has_pending;
	/* profile.c: the per-exit profile, NULL when off; the shim in front of ops while on */
	struct xg_profile *prof;
	/* what a dump written now records: set around each verdict applied */
	const char *dump_trigger, *dump_handler, *dump_error;
	/* the counters at a line's start: the words an exit adds to (exits, lua_calls, lua_ns,
	 * cache_hits, cache_misses, verdicts[EMULATE]) are struct xg_stats' first eight, one
	 * line, and emulated and emulated_memo share the next line they touch with x's start
	 * (t_exit_lines: the counters were three lines of every repeated exit) */
	_Alignas(64) struct xg_live_stats st;
	struct xg_exit_opts opts;
	struct xg_exit x;
	/* x holds a decoded exit (an exit that repeats it is not decoded again) */
	uint8_t x_ok;
	/* the cache's answer for x, while x repeats and the cache's gen is lk_gen; lk_emulate:
	 * it is emulate with no dump (the lane of repeat_emulate), kept here so that a repeated
	 * exit reads nothing of the cache's entry, pages further on */
	uint8_t lk_ok, lk_emulate;
	unsigned lk_gen;
	const struct xg_verdict *lk;
	/* the x86 emulator's compiled instructions (verdict.c): a repeated instruction's
	 * keys, entry and counts, in the struct's first page with the rest of the path */
	struct xg_emu_x86_memo memo;
	struct xg_cache cache; /* the shapes first, then the entries */
	/* the rest */
	struct xg_engine *e;
	char guest[64];
	int index;
	pthread_mutex_t lock; /* guards pending */
	struct xg_lstate *pending;
	char last_error[512];
	char last_reason[640]; /* xg_result.reason */
	struct xg_logbucket logs;
	uint64_t dump_seq, dumps_suppressed;
	char dump_prev[256]; /* file name of this vCPU's last dump in this run, "" if none */
	struct xg_vcpu *next;
	struct xg_prof_shim *prof_shim;
};

/* One guest's xg.store: a hash table bounded in entries, key and value sizes, whose bytes
 * count against the memory cap of each of the guest's states (l_alloc adds `bytes`). */
struct xg_store_ent {
	struct xg_store_ent *next;
	uint64_t hash;
	int type; /* LUA_TBOOLEAN, LUA_TNUMBER (integer or float), LUA_TSTRING */
	int is_int;
	lua_Integer i;
	lua_Number d;
	char *s;
	size_t len, klen;
	char key[]; /* klen bytes (may hold NULs), then a NUL */
};

struct xg_store {
	char *guest;
	pthread_mutex_t lock;
	struct xg_store_ent **b;
	size_t nb, n;
	uint64_t seed;
	atomic_size_t bytes; /* entries, keys, values and the bucket array */
	struct xg_store *next;
};

struct xg_engine {
	pthread_mutex_t lock;	     /* vcpus, cfg, store */
	pthread_mutex_t reload_lock; /* one reload at a time */
	struct xg_config *cfg;
	char *lua_src; /* lua/exitgate.lua */
	size_t lua_len;
	char *lua_bin; /* ... compiled once (xg_module_compile), NULL: states parse lua_src */
	size_t lua_bin_len;
	struct xg_vcpu *vcpus;
	size_t nvcpus; /* in vcpus (changed under reload_lock and lock) */
	/* states replaced, closed by the next reload: pushed without a lock (a vCPU's swap
	 * must not wait for a stats reader or a reload), taken whole by empty_graveyard */
	_Atomic(struct xg_lstate *) graveyard;
	/* bases made ahead (sandbox.c xg_lstate_base), one per vCPU: a reload loads each
	 * vCPU's policy into one instead of making a whole state while the vCPUs wait, and
	 * makes them again once it has handed out the new states (engine.c pool_fill); under
	 * reload_lock */
	struct xg_lstate **pool;
	size_t pool_n, pool_cap;
	xg_log_fn log;
	void *log_ud;
	struct xg_stats retired; /* detached vCPUs, reload counters */
	char run_id[48];	 /* in every dump's name (xg_dump_run_id) */
	char *dump_default;	 /* dump_dir of guests that configure none (NULL: logged only) */
	struct xg_store *stores; /* one per guest that ever had a state */
	/* watch.c */
	pthread_t watcher;
	int watching;
	int wake[2];
	int inotify;
};

void xg_engine_log(struct xg_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text a policy wrote (messages, reasons, notes, log lines) is shown to a person: each
 * control character (C0 and DEL, newline included) becomes '.', as on the guest console, so
 * a policy cannot send a terminal escape sequences nor forge whole lines of exitgate's. */
void xg_text_clean(char *s);
/* Rate-limited per vCPU; counts what it drops. */
void xg_vcpu_log(struct xg_vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line caused by the policy of ls: through its vCPU's bucket, or the state's own when it
 * has no vCPU (loads at engine start and reload, exitgate check). */
void xg_lstate_log(struct xg_lstate *ls, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether a line may be logged now (takes a token, or counts one suppressed). */
int xg_log_admit(struct xg_logbucket *b, double rate, double burst);
/* Reports what ls's own bucket suppressed, if anything. */
void xg_lstate_log_flush(struct xg_lstate *ls);
int xg_read_file(const char *path, char **text, size_t *len, struct xg_error *err);
void xg_watch_stop(struct xg_engine *e);

/* Store (per-guest values that survive reloads). */
struct xg_store *xg_store_of(struct xg_engine *e, const char *guest);
void xg_store_push(struct xg_lstate *ls, lua_State *L, const char *key, size_t klen);
/* Sets (nil: removes) key to the value at idx; 0, or -1 with msg filled. */
int xg_store_set(struct xg_lstate *ls, lua_State *L, const char *key, size_t klen, int idx,
		 char *msg, size_t n);
void xg_store_free(struct xg_engine *e);

#endif
