/*
 * engine_test.h - what the engine tests share: a fake VMM (vCPU ops recording what the
 * engine asked for), kvm_run builders, and engines made from a policy text.
 */
#ifndef XG_ENGINE_TEST_H
#define XG_ENGINE_TEST_H

#include <errno.h>
#include <lauxlib.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitgate.h"
#include "tap.h"

struct fake {
	uint64_t rip, rax;
	uint64_t cr2;
	int cr2_sets, cr2_at; /* set_reg "cr2" calls; injections made before the last one */
	int injected, vector, has_code;
	uint32_t code;
	int emulated, aborts, converts, paused, resumed;
	uint64_t conv_gpa, conv_size;
	int conv_private;
	char pause_reason[128];
	int fail_emulate, fail_inject;
	uint8_t mem[0x2000]; /* guest physical 0x0 .. 0x2000 */
};

static inline int f_get_reg(void *o, const char *n, uint64_t *v)
{
	struct fake *f = o;
	if (!strcmp(n, "rip") || !strcmp(n, "pc"))
		*v = f->rip;
	else if (!strcmp(n, "rax"))
		*v = f->rax;
	else
		return -ENOENT;
	return 0;
}

static inline int f_set_reg(void *o, const char *n, uint64_t v)
{
	struct fake *f = o;
	if (!strcmp(n, "rip") || !strcmp(n, "pc"))
		f->rip = v;
	else if (!strcmp(n, "rax"))
		f->rax = v;
	else if (!strcmp(n, "cr2")) {
		f->cr2 = v;
		f->cr2_sets++;
		f->cr2_at = f->injected;
	} else
		return -ENOENT;
	return 0;
}

static inline int f_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct fake *f = o;
	if (gpa >= sizeof(f->mem) || len > sizeof(f->mem) - gpa)
		return -EFAULT;
	memcpy(buf, f->mem + gpa, len);
	return 0;
}

static inline int f_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	if (gva < 0xffff800000000000ull)
		return -EFAULT;
	*gpa = gva - 0xffff800000000000ull;
	return 0;
}

static inline int f_inject(void *o, unsigned vector, int has, uint32_t code)
{
	struct fake *f = o;
	if (f->fail_inject)
		return -EINVAL;
	f->injected++;
	f->vector = (int)vector;
	f->has_code = has;
	f->code = code;
	return 0;
}

static inline int f_abort(void *o)
{
	((struct fake *)o)->aborts++;
	return 0;
}

static inline int f_attrs(void *o, uint64_t gpa, uint64_t size, int priv)
{
	struct fake *f = o;
	f->converts++;
	f->conv_gpa = gpa;
	f->conv_size = size;
	f->conv_private = priv;
	return 0;
}

static inline int f_emulate(void *o, const struct xg_exit *x)
{
	struct fake *f = o;
	if (f->fail_emulate)
		return -EOPNOTSUPP;
	f->emulated++;
	return 0;
}

static inline int f_pause(void *o, const char *why)
{
	struct fake *f = o;
	f->paused++;
	snprintf(f->pause_reason, sizeof(f->pause_reason), "%s", why);
	return 0;
}

static inline int f_resume(void *o)
{
	((struct fake *)o)->resumed++;
	return 0;
}

static const struct xg_vcpu_ops fake_ops = {
    .get_reg = f_get_reg,
    .set_reg = f_set_reg,
    .read_gpa = f_read,
    .translate_gva = f_translate,
    .inject_exception = f_inject,
    .inject_external_abort = f_abort,
    .set_memory_attributes = f_attrs,
    .emulate = f_emulate,
    .pause = f_pause,
    .resume = f_resume,
};

/* ---- kvm_run builders ---- */
struct run {
	_Alignas(8) uint8_t b[4096];
};

static inline struct kvm_run *kr(struct run *r)
{
	return (struct kvm_run *)r->b;
}

static inline void run_reason(struct run *r, uint32_t reason)
{
	memset(r->b, 0, sizeof(r->b));
	kr(r)->exit_reason = reason;
}

static inline void run_emul(struct run *r, const char *insn, size_t n)
{
	run_reason(r, KVM_EXIT_INTERNAL_ERROR);
	kr(r)->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	kr(r)->emulation_failure.ndata = 3;
	kr(r)->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	kr(r)->emulation_failure.insn_size = (uint8_t)n;
	memcpy(kr(r)->emulation_failure.insn_bytes, insn, n);
}

static inline void run_mmio(struct run *r, uint64_t gpa, uint32_t len, int write)
{
	run_reason(r, KVM_EXIT_MMIO);
	kr(r)->mmio.phys_addr = gpa;
	kr(r)->mmio.len = len;
	kr(r)->mmio.is_write = (uint8_t)write;
}

static inline void run_io(struct run *r, uint16_t port, int out)
{
	run_reason(r, KVM_EXIT_IO);
	kr(r)->io.port = port;
	kr(r)->io.size = 1;
	kr(r)->io.count = 1;
	kr(r)->io.direction = (uint8_t)out;
	kr(r)->io.data_offset = 1024;
}

static inline void run_msr(struct run *r, uint32_t index, int write)
{
	run_reason(r, write ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR);
	kr(r)->msr.index = index;
	kr(r)->msr.reason = 1;
}

/* memory_fault (39): flags, gpa, size at the start of the union */
static inline void run_mf(struct run *r, uint64_t gpa, uint64_t size, int priv)
{
	uint64_t w[3] = {priv ? 8u : 0u, gpa, size};
	run_reason(r, 39);
	memcpy(r->b + 32, w, sizeof(w));
}

/* ---- engines ---- */
/* An `out` to port (1 byte) handed to the engine: what most tests feed a vCPU. */
static inline struct xg_result io(xg_vcpu *v, uint16_t port)
{
	struct run r;

	run_io(&r, port, 1);
	return xg_handle_exit(v, r.b, sizeof(r.b), 0);
}

/* vCPU 0 of guest "g" on the fake ops (bails when it cannot be had). */
static inline xg_vcpu *attach(xg_engine *e, struct fake *f)
{
	struct xg_error err;
	xg_vcpu *v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, f, &err) : NULL;

	if (!v)
		bail("attach: %s", e ? err.msg : "no engine");
	return v;
}

/* Seconds on the monotonic clock. */
static inline double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char test_dir[256];

static inline const char *tdir(void)
{
	if (!test_dir[0]) {
		snprintf(test_dir, sizeof(test_dir), "/tmp/xg-engine-test-XXXXXX");
		if (!mkdtemp(test_dir))
			bail("mkdtemp: %s", strerror(errno));
	}
	return test_dir;
}

static inline const char *put_file(const char *name, const char *text)
{
	static char path[8][512];
	static int i;
	char *p = path[i++ % 8];
	FILE *f;

	snprintf(p, 512, "%s/%s", tdir(), name);
	f = fopen(p, "w");
	if (!f)
		bail("cannot write %s", p);
	fputs(text, f);
	fclose(f);
	return p;
}

static int log_lines;
static char last_log[1024];
/* A watcher thread logs too (reloads): a test that waits for its line reads it through
 * last_log_now() */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static inline void test_log(void *ud, const char *line)
{
	pthread_mutex_lock(&log_mu);
	log_lines++;
	snprintf(last_log, sizeof(last_log), "%s", line);
	pthread_mutex_unlock(&log_mu);
}

/* The last line logged, copied under the lock. */
static inline const char *last_log_now(char *buf, size_t n)
{
	pthread_mutex_lock(&log_mu);
	snprintf(buf, n, "%s", last_log);
	pthread_mutex_unlock(&log_mu);
	return buf;
}

/* An engine with guest "g" running policy `text` (file p.lua), `extra` YAML lines
 * indented under the guest. */
static inline xg_engine *engine_with(const char *text, const char *extra, struct xg_error *err)
{
	char cfgtext[4096];
	xg_config *cfg;
	xg_engine *e;

	put_file("p.lua", text);
	snprintf(cfgtext, sizeof(cfgtext), "guests:\n  g:\n    policy: p.lua\n%s",
		 extra ? extra : "");
	cfg = xg_config_parse(cfgtext, strlen(cfgtext), "test.yaml", tdir(), err);
	if (!cfg)
		return NULL;
	e = xg_engine_new(cfg, err);
	xg_config_free(cfg);
	if (e)
		xg_engine_set_log(e, test_log, NULL);
	return e;
}

static inline void cleanup_dir(void)
{
	char cmd[600];
	if (test_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
		if (system(cmd)) {
		}
	}
}

#endif
