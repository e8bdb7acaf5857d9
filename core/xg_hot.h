/*
 * xg_hot.h - XG_HOT marks a function on the path every handled exit takes (the engine's
 * repeated-exit lane, the emulate verdict, the x86 memo's direct path, the page walk, the KVM
 * backend's ops and ioctl wrappers, the Lua call). The compiler puts such functions in
 * .text.hot and the linker keeps that section together, so the path's code spans a few pages
 * instead of one or two per function scattered through the library.
 *
 * Why pages: after a KVM_RUN the handler runs on a cold TLB and caches (the guest ran in
 * between); each page of code or data touched costs a TLB walk on top of its cache lines.
 * Measured on the kvm_pvm AMD host (see the README's performance section): ~1 ns per cache
 * line and ~2 ns per page touched after a KVM_RUN.
 */
#ifndef XG_HOT_H
#define XG_HOT_H

#define XG_HOT __attribute__((hot))

#endif
