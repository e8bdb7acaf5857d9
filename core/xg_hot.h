/*
 * xg_hot.h - XG_HOT marks a function on the path every handled exit takes (the engine's
 * repeated-exit lane, the emulate verdict, the x86 memo's direct path, the page walk, the KVM
 * backend's ops and ioctl wrappers); XG_HOT_LUA one on an exit's way through the Lua policy
 * (the call, the shared verdict, verdict_apply). Each kind goes to a section of its own that
 * the linker keeps together, so the path's code spans a few pages instead of one or two per
 * function scattered through the library.
 *
 * Why pages: after a KVM_RUN the handler runs on a cold TLB and caches (the guest ran in
 * between); each page of code or data touched costs a TLB walk on top of its cache lines.
 * Measured on the kvm_pvm AMD host (see the README's performance section): ~1 ns per cache
 * line and ~2 ns per page touched after a KVM_RUN.
 */
#ifndef XG_HOT_H
#define XG_HOT_H

/*
 * Both go to named sections the GNU linker places, sorted by name, right after .text.hot
 * (its default script: SORT(.text.sorted.*)): the repeated exit's path (XG_HOT) first and
 * together, the Lua call's (XG_HOT_LUA) after it. With link-time optimisation the path's
 * functions inline into fewer, larger ones, and where the linker put the Lua path's between
 * them the repeated exit's code spanned five pages after each KVM ioctl instead of four.
 * Another linker puts the sections in .text: the code is the same, only its place differs.
 */
#define XG_HOT	   __attribute__((hot, section(".text.sorted.xg1")))
#define XG_HOT_LUA __attribute__((hot, section(".text.sorted.xg2")))

/* A branch an exit on one of those paths takes (XG_LIKELY) or never takes but on a failure or
 * a rare case (XG_UNLIKELY): GCC then lays the path's blocks out one after another and the
 * others after them, instead of the path jumping over a fallback or a message it does not
 * run. Every line of code the path spans costs after a KVM_RUN (measured with lackey on
 * bench_run: 131 -> 117 lines of code per repeated exit, 238 -> 220 through Lua). */
#define XG_LIKELY(c)   __builtin_expect(!!(c), 1)
#define XG_UNLIKELY(c) __builtin_expect(!!(c), 0)

#endif
