// gRPC server bootstrap shared by every service: TLS (optional mTLS) from certificate files or
// plaintext only with --allow_insecure; the standard health service (overall and per service name,
// driven by common/health.h) and reflection; graceful shutdown that is NOT_SERVING from its first
// moment. Also the shared server flags and termination-signal handling.
//
// The shared flags that fill ServerOptions live in common/server_flags.h (binaries only).
//
// Thread safety: GrpcServer is thread-safe; signal helpers are for main().
#ifndef DOSSIERSYNC_COMMON_SERVER_H_
#define DOSSIERSYNC_COMMON_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/health.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"

namespace dossiersync {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";
  bool allow_insecure = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;  // set: clients must present a certificate signed by it
  std::string auth_tokens_file;
  int max_receive_bytes = 16 * 1024 * 1024;  // services enforce their own, smaller, limits
  Health::Options health;                    // how often readiness is checked

  // Fails with a clear message: TLS files missing without --allow_insecure, and so on.
  absl::Status Validate() const;
  nlohmann::json ToJson() const;
};

// What the health service tells: the full names of the services (besides ""), and the checks
// that decide readiness (e.g. {"storage", Database::Probe}).
struct HealthSpec {
  std::vector<std::string> service_names;
  std::vector<std::pair<std::string, std::function<absl::Status()>>> checks;
};

class GrpcServer {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerOptions& options, const std::vector<grpc::Service*>& services,
      HealthSpec health = {});
  ~GrpcServer();
  int port() const { return port_; }
  grpc::Server* server() { return server_.get(); }
  // The readiness the health service and the metrics port's /readyz report.
  const Health* health() const { return health_.get(); }
  // NOT_SERVING from now on (the first thing a Stop does); calls are still served.
  void BeginShutdown() { health_->BeginShutdown(); }
  // NOT_SERVING, then waits up to `grace` for in-flight calls.
  void Shutdown(absl::Duration grace);

 private:
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health> health_;  // after server_: its thread stops before the server goes
  int port_ = 0;
  bool shut_down_ = false;
};

// Builds the authenticator the options ask for.
absl::StatusOr<std::unique_ptr<Authenticator>> MakeAuthenticator(const ServerOptions& options);

// Call first in main(): blocks SIGTERM/SIGINT in every thread so WaitForTerminationSignal sees
// them.
void BlockTerminationSignals();
// Blocks until SIGTERM or SIGINT; returns the signal's name.
std::string WaitForTerminationSignal();

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_SERVER_H_
