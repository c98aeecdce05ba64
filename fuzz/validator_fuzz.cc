// libFuzzer target: intake's input validation. The input is a SubmitChangeRequest, as protobuf
// bytes or (starting with '{') as JSON, plus the same bytes as a transition-rules spec. Nothing
// may crash, and a request the validator accepts must stay accepted after a serialisation round
// trip (the rules depend on content, not on encoding).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "services/intake/transitions.h"
#include "services/intake/validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)dossiersync::intake::TransitionRules::Parse(bytes);
  dossiersync::v1::SubmitChangeRequest req;
  if (!bytes.empty() && bytes[0] == '{') {
    if (!google::protobuf::util::JsonStringToMessage(bytes, &req).ok()) return 0;
  } else if (!req.ParseFromString(bytes)) {
    return 0;
  }
  static const dossiersync::intake::ValidatorConfig config;
  const absl::Time now = absl::FromUnixSeconds(1720166400);  // 2024-07-05
  absl::Status first = dossiersync::intake::ValidateRequest(req, config, now);
  dossiersync::v1::SubmitChangeRequest again;
  if (!again.ParseFromString(req.SerializeAsString())) abort();
  absl::Status second = dossiersync::intake::ValidateRequest(again, config, now);
  if (first.ok() != second.ok()) abort();
  return 0;
}
