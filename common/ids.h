// Identifiers: random event ids (UUID v4 text) and W3C trace context (traceparent).
//
// Thread safety: thread-safe.
#ifndef DOSSIERSYNC_COMMON_IDS_H_
#define DOSSIERSYNC_COMMON_IDS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace dossiersync {

std::string NewEventId();
// "00-<32 hex trace id>-<16 hex span id>-01".
std::string NewTraceparent();
// A child traceparent of `parent` (same trace id, new span id) if `parent` is valid, else new.
std::string ChildTraceparent(absl::string_view parent);
// The 32-hex trace id of a valid traceparent, or "".
std::string TraceIdOf(absl::string_view traceparent);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_IDS_H_
