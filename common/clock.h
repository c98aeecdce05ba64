// The current time as a protobuf Timestamp, to the microsecond. Use it instead of
// google::protobuf::util::TimeUtil::GetCurrentTime(), which (protobuf 3.21, Debian 12) reads
// time(nullptr) and so truncates to whole seconds: lags and latencies computed from such
// timestamps were off by up to a second.
//
// Thread safety: thread-safe.
#ifndef DOSSIERSYNC_COMMON_CLOCK_H_
#define DOSSIERSYNC_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync {

inline google::protobuf::Timestamp NowTimestamp() {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
}

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_CLOCK_H_
