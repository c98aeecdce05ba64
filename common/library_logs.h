// gRPC's and protobuf's own messages (a TLS handshake that failed, invalid UTF-8 in a string
// field, ...) routed through the JSON logger instead of plain text on stderr, so that every line a
// service prints is JSON. Each library is rate-limited (kLibraryLinesPerSecond lines a second);
// what is dropped is counted in one line when the next second begins.
//
// Thread safety: RouteLibraryLogs once at start (before any gRPC or protobuf use, as protobuf's
// SetLogHandler requires); the handlers are thread-safe.
#ifndef DOSSIERSYNC_COMMON_LIBRARY_LOGS_H_
#define DOSSIERSYNC_COMMON_LIBRARY_LOGS_H_

namespace dossiersync {

inline constexpr int kLibraryLinesPerSecond = 20;

void RouteLibraryLogs();

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_LIBRARY_LOGS_H_
