/* tap.c - see tap.h. Output goes to stdout, line-buffered, so a crash loses nothing printed. */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_num;
static int failures;
static int planned = -1;

__attribute__((constructor)) static void tap_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

__attribute__((format(printf, 2, 0))) static void vline(const char *prefix, const char *fmt,
							va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
}

void plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
}

int done_testing(void)
{
	if (planned < 0)
		printf("1..%d\n", test_num);
	else if (planned != test_num)
		printf("# planned %d tests but ran %d\n", planned, test_num);
	fflush(stdout);
	return failures ? 1 : 0;
}

void skip_all(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("1..0 # SKIP ", fmt, ap);
	va_end(ap);
	exit(0);
}

void bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("Bail out! ", fmt, ap);
	va_end(ap);
	exit(255);
}

void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("# ", fmt, ap);
	va_end(ap);
}

void skip(int n, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	while (n-- > 0)
		printf("ok %d # skip %s\n", ++test_num, why);
}

__attribute__((format(printf, 2, 0))) static int vresult(int cond, const char *fmt, va_list ap)
{
	printf("%sok %d - ", cond ? "" : "not ", ++test_num);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	if (!cond)
		failures++;
	return cond;
}

#define RESULT(cond)                                                                               \
	({                                                                                         \
		va_list ap_;                                                                       \
		va_start(ap_, fmt);                                                                \
		int r_ = vresult((cond), fmt, ap_);                                                \
		va_end(ap_);                                                                       \
		r_;                                                                                \
	})

int ok(int cond, const char *fmt, ...)
{
	return RESULT(cond);
}

int is_int(long long got, long long want, const char *fmt, ...)
{
	int r = RESULT(got == want);
	if (!r)
		diag("     got: %lld\n#   wanted: %lld", got, want);
	return r;
}

int is_hex(uint64_t got, uint64_t want, const char *fmt, ...)
{
	int r = RESULT(got == want);
	if (!r)
		diag("     got: %#llx\n#   wanted: %#llx", (unsigned long long)got,
		     (unsigned long long)want);
	return r;
}

int is_str(const char *got, const char *want, const char *fmt, ...)
{
	int same = (got == NULL || want == NULL) ? got == want : strcmp(got, want) == 0;
	int r = RESULT(same);
	if (!r)
		diag("     got: %s%s%s\n#   wanted: %s%s%s", got ? "'" : "", got ? got : "NULL",
		     got ? "'" : "", want ? "'" : "", want ? want : "NULL", want ? "'" : "");
	return r;
}

int like(const char *got, const char *substring, const char *fmt, ...)
{
	int r = RESULT(got != NULL && strstr(got, substring) != NULL);
	if (!r)
		diag("     got: %s\n#   wanted something containing: %s", got ? got : "NULL",
		     substring);
	return r;
}

int is_mem(const void *got, const void *want, size_t n, const char *fmt, ...)
{
	int r = RESULT(memcmp(got, want, n) == 0);
	if (!r) {
		const unsigned char *g = got, *w = want;
		for (size_t i = 0; i < n; i++)
			if (g[i] != w[i]) {
				diag("first difference at byte %zu: got %#04x, wanted %#04x", i,
				     g[i], w[i]);
				break;
			}
	}
	return r;
}

int tap_failures(void)
{
	return failures;
}
