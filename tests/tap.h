/*
 * tap.h - a small Test Anything Protocol producer for exitgate's C tests.
 *
 * Every test program prints a plan ("1..N", or at the end with done_testing()), one
 * "ok N - name" / "not ok N - name" line per check, and "# ..." diagnostics; `prove` runs
 * them. A program that cannot run here (no /dev/kvm, say) calls skip_all(), which prints
 * "1..0 # SKIP why" and exits 0: a skip is never reported as a pass. bail() prints
 * "Bail out!" and stops the whole run. Checks return whether they passed, so a test can
 * stop early when later checks would only repeat the failure.
 */
#ifndef XG_TAP_H
#define XG_TAP_H

#include <stddef.h>
#include <stdint.h>

/* XG_UNDER_ASAN, XG_UNDER_TSAN: a test a sanitizer cannot follow skips with why */
#include "sanitizer.h"

void plan(int n);
int done_testing(void); /* prints the plan if none was given; returns the exit status */
void skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void skip(int n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int is_int(long long got, long long want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int is_hex(uint64_t got, uint64_t want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* NULL compares equal only to NULL. */
int is_str(const char *got, const char *want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int like(const char *got, const char *substring, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int is_mem(const void *got, const void *want, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

int tap_failures(void);

#endif
