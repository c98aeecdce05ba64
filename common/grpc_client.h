// Client-side gRPC helpers: channels (TLS when a CA file is given, plaintext otherwise) and
// per-call contexts with a deadline, the bearer token and a traceparent.
//
// Thread safety: pure functions; a ClientOptions is immutable after setup.
#ifndef DOSSIERSYNC_COMMON_GRPC_CLIENT_H_
#define DOSSIERSYNC_COMMON_GRPC_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace dossiersync {

struct ClientOptions {
  std::string tls_ca_file;    // set: TLS, verifying the server against this CA
  std::string tls_cert_file;  // client certificate for mTLS (with tls_key_file)
  std::string tls_key_file;
  std::string token;      // bearer token ("" = none)
  std::string authority;  // TLS target name override (tests)
};

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientOptions& options);
// A context with `timeout` as deadline, the token and a new traceparent.
std::unique_ptr<grpc::ClientContext> MakeContext(const ClientOptions& options,
                                                 absl::Duration timeout);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_GRPC_CLIENT_H_
