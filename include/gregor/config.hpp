// Build configuration: the C++20 requirement and the feature macros the build sets.
// GREGOR_HAS_URING is defined to 1 by meson/pkg-config/CMake when liburing was found.
#pragma once

#if defined(_MSVC_LANG) ? (_MSVC_LANG < 202002L) : (__cplusplus < 202002L)
#error "gregor requires C++20 (-std=c++20)"
#endif

#ifndef GREGOR_HAS_URING
#define GREGOR_HAS_URING 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GREGOR_LIKELY(x) __builtin_expect(!!(x), 1)
#define GREGOR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define GREGOR_LIKELY(x) (x)
#define GREGOR_UNLIKELY(x) (x)
#endif
