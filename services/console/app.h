// dossier-console (SPEC §8): the web console officials open instead of checking the sync by hand,
// and operators act from. An HTTP server (cpp-httplib, default 127.0.0.1:8090) whose pages are
// rendered on the server from the services' gRPC answers (IntakeService, SyncService,
// ReconciliationService; a deadline on every call), charts as inline SVG, no script and nothing
// loaded from elsewhere (a Content-Security-Policy says so), Vietnamese by default and English
// with ?lang=en. Pages: overview (/), drift (/drift), one dossier (/dossier?code=), dead letters
// (/dead-letters), runs (/runs). Reading needs no sign-in (the console reads with its own
// credentials); the actions (start a reconciliation, resync a dossier, replay dead letters) need
// an operator signed in with their token (checked against --auth_tokens_file, forwarded to the
// service) and the session's CSRF token in the form.
//
// Thread safety: Start and Stop from one thread; requests are served on httplib's pool.
#ifndef DOSSIERSYNC_SERVICES_CONSOLE_APP_H_
#define DOSSIERSYNC_SERVICES_CONSOLE_APP_H_

#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "services/console/sessions.h"

namespace dossiersync::console {

struct ConsoleConfig {
  std::string listen = "127.0.0.1:8090";
  std::string intake_addr = "127.0.0.1:50051";
  std::string sync_addr = "127.0.0.1:50052";
  std::string reconciliation_addr = "127.0.0.1:50053";
  ClientOptions intake_client;  // the console's own credentials for reading
  ClientOptions sync_client;
  ClientOptions reconciliation_client;
  // Operators who may sign in (common/auth.h's tokens file; operator role). Empty: nobody can
  // sign in (read-only console); allowed only with allow_insecure.
  std::string tokens_file;
  bool allow_insecure = false;
  // The session cookie's Secure attribute (default: on unless --allow_insecure; the console is
  // meant to be reached through TLS, e.g. the ingress).
  bool cookie_secure = true;
  absl::Duration session_ttl = absl::Hours(8);
  std::string score_period;  // the overview's score period; "" = this month
  absl::Duration call_timeout = absl::Seconds(10);

  static absl::StatusOr<ConsoleConfig> FromFlags();
  absl::Status Validate() const;
  nlohmann::json ToJson() const;
};

struct Backends {
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> intake;
  std::unique_ptr<dossiersync::v1::SyncService::Stub> sync;
  std::unique_ptr<dossiersync::v1::ReconciliationService::Stub> reconciliation;
};

class App {
 public:
  static absl::StatusOr<std::unique_ptr<App>> Start(const ConsoleConfig& config);
  ~App();
  int port() const { return port_; }
  void Stop();

 private:
  App() = default;
  void Routes();
  ConsoleConfig config_;
  Backends backends_;
  std::unique_ptr<Authenticator> operators_;  // null: sign-in not configured
  std::unique_ptr<Sessions> sessions_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace dossiersync::console

#endif  // DOSSIERSYNC_SERVICES_CONSOLE_APP_H_
