/*
 * sanitizer.h - which sanitizer a test or benchmark program is built with: gcc says so with
 * __SANITIZE_ADDRESS__ and __SANITIZE_THREAD__, clang with __has_feature.
 *   XG_UNDER_ASAN  AddressSanitizer (-DXG_SANITIZE=ON)
 *   XG_UNDER_TSAN  ThreadSanitizer (-DXG_SANITIZE_THREAD=ON)
 */
#ifndef XG_SANITIZER_H
#define XG_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define XG_UNDER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define XG_UNDER_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(XG_UNDER_ASAN)
#define XG_UNDER_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(XG_UNDER_TSAN)
#define XG_UNDER_TSAN 1
#endif
#endif

#endif
