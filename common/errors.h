// Rich errors across the gRPC boundary: an absl::Status with canonical code carries
// google.rpc.ErrorInfo / BadRequest details as payloads; ToGrpcStatus turns it into a grpc::Status
// whose binary details are a serialized google.rpc.Status, so clients can act on the reason and
// field. Decoding helpers are here too, for clients and tests.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_COMMON_ERRORS_H_
#define DOSSIERSYNC_COMMON_ERRORS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace dossiersync {

inline constexpr absl::string_view kErrorDomain = "dossiersync.v1";

// INVALID_ARGUMENT naming the field and the rule it breaks.
absl::Status FieldError(absl::string_view field, absl::string_view rule);

// Collects every violation of one request, so that a caller fixes its data in one round trip:
// ToStatus gives one INVALID_ARGUMENT whose google.rpc.BadRequest lists them all in the order
// they were added (the message names the first few). Not thread-safe.
class FieldViolations {
 public:
  static constexpr size_t kMax = 100;  // more are counted, not listed

  void Add(absl::string_view field, absl::string_view rule);
  // Adds the BadRequest violations of `st` (a FieldError); other errors add {"", message}.
  void Add(const absl::Status& st);
  bool empty() const { return list_.empty(); }
  const std::vector<std::pair<std::string, std::string>>& list() const { return list_; }
  absl::Status ToStatus() const;  // OK when empty

 private:
  std::vector<std::pair<std::string, std::string>> list_;
  size_t unlisted_ = 0;
};
// `code` with an ErrorInfo reason and metadata.
absl::Status ReasonError(absl::StatusCode code, absl::string_view reason, absl::string_view message,
                         const std::map<std::string, std::string>& metadata = {});

google::rpc::Status ToRpcStatus(const absl::Status& status);
grpc::Status ToGrpcStatus(const absl::Status& status);
// Decodes the details of a grpc::Status (empty when absent or malformed).
google::rpc::Status DetailsOf(const grpc::Status& status);

// The ErrorInfo reason in `details`, or "".
std::string ReasonOf(const google::rpc::Status& details);
// The first BadRequest field violation's field, or "".
std::string FieldOf(const google::rpc::Status& details);
// Every BadRequest field violation's field, in order.
std::vector<std::string> FieldsOf(const google::rpc::Status& details);
std::string MetadataOf(const google::rpc::Status& details, const std::string& key);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_ERRORS_H_
