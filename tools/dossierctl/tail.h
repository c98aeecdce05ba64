// `dossierctl tail TOPIC`: prints a topic's messages as JSON lines, the value decoded with the
// protobuf type named by the `schema` header (or the topic's documented type).
//
// Thread safety: call from one thread.
#ifndef DOSSIERSYNC_TOOLS_DOSSIERCTL_TAIL_H_
#define DOSSIERSYNC_TOOLS_DOSSIERCTL_TAIL_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/kafka.h"
#include "nlohmann/json.hpp"

namespace dossiersync::tools {

struct TailOptions {
  std::string brokers;
  std::string topic;
  bool from_beginning = true;
  int64_t max_messages = 0;  // 0 = unlimited
  absl::Duration idle_timeout =
      absl::ZeroDuration();  // stop after this long without messages; 0 = never
};

// Decodes one message to JSON: {topic, partition, offset, key, headers, value | error}.
nlohmann::json DecodeMessage(const InMessage& m);

// Calls `emit` for each message until max_messages or idle_timeout; returns how many.
absl::StatusOr<int64_t> RunTail(const TailOptions& options,
                                const std::function<void(const nlohmann::json&)>& emit);

}  // namespace dossiersync::tools

#endif  // DOSSIERSYNC_TOOLS_DOSSIERCTL_TAIL_H_
