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

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace dossiersync {

inline constexpr absl::string_view kErrorDomain = "dossiersync.v1";

// INVALID_ARGUMENT naming the field and the rule it breaks.
absl::Status FieldError(absl::string_view field, absl::string_view rule);
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
std::string MetadataOf(const google::rpc::Status& details, const std::string& key);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_ERRORS_H_
