// The library version, as one comparable integer (major*10000 + minor*100 + patch).
#pragma once

#define GREGOR_VERSION 100
#define GREGOR_VERSION_STRING "0.1.0"

namespace gregor {
inline constexpr int version = GREGOR_VERSION;
inline constexpr const char* version_string = GREGOR_VERSION_STRING;
} // namespace gregor
