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

// TLS is on when a CA or a client certificate is given: the server is verified against the CA
// file, or the system's roots without one; a client certificate (with its key) is presented for
// mutual TLS.
struct ClientOptions {
  std::string tls_ca_file;    // CA to verify the server ("" with a certificate: system roots)
  std::string tls_cert_file;  // client certificate for mTLS (with tls_key_file)
  std::string tls_key_file;
  std::string token;      // bearer token ("" = none)
  std::string authority;  // TLS server name to verify instead of the target's host
  bool tls() const { return !tls_ca_file.empty() || !tls_cert_file.empty(); }
};

// Options from one client's flags, validated (certificate and key go together; files readable),
// errors naming the flags given in `names` (e.g. {"--intake_ca_file", "--intake_cert_file",
// "--intake_key_file", "--intake_token_file"}).
struct ClientFlagNames {
  const char* ca;
  const char* cert;
  const char* key;
  const char* token;
};
absl::StatusOr<ClientOptions> ClientOptionsFrom(const std::string& ca, const std::string& cert,
                                                const std::string& key,
                                                const std::string& token_file,
                                                const std::string& server_name,
                                                const ClientFlagNames& names);

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientOptions& options);
// A context with `timeout` as deadline, the token and a new traceparent.
std::unique_ptr<grpc::ClientContext> MakeContext(const ClientOptions& options,
                                                 absl::Duration timeout);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_GRPC_CLIENT_H_
