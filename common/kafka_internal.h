// What common/kafka.cc and common/kafka_consumer.cc share; not for use outside common/.
//
// Thread safety: NewHandle is thread-safe.
#ifndef DOSSIERSYNC_COMMON_KAFKA_INTERNAL_H_
#define DOSSIERSYNC_COMMON_KAFKA_INTERNAL_H_

#include <librdkafka/rdkafka.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace dossiersync {

// A librdkafka handle: `kv` overridden by `overrides`, the JSON logger installed, and the conf
// handed to `configure` (callbacks, opaque) before the handle is made.
absl::StatusOr<rd_kafka_t*> NewHandle(rd_kafka_type_t type, std::map<std::string, std::string> kv,
                                      const std::map<std::string, std::string>& overrides,
                                      const std::function<void(rd_kafka_conf_t*)>& configure = {});

// The latest (`which` RD_KAFKA_OFFSET_END) or earliest (RD_KAFKA_OFFSET_BEGINNING) offsets of
// `tps`, in one ListOffsets request per leader; partitions that did not answer are left out.
std::map<std::pair<std::string, int32_t>, int64_t> BatchOffsets(
    rd_kafka_t* rk, const std::set<std::pair<std::string, int32_t>>& tps, int64_t which,
    int timeout_ms);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_KAFKA_INTERNAL_H_
