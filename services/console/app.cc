#include "services/console/app.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/console/html.h"
#include "services/console/http_util.h"
#include "services/console/pages.h"

namespace dossiersync::console {
absl::Status ConsoleConfig::Validate() const {
  if (listen.empty()) return absl::InvalidArgumentError("--listen is required");
  if (intake_addr.empty() || sync_addr.empty() || reconciliation_addr.empty()) {
    return absl::InvalidArgumentError(
        "--intake_addr, --sync_addr and --reconciliation_addr are required");
  }
  if (!allow_insecure) {
    if (tokens_file.empty()) {
      return absl::InvalidArgumentError(
          "--auth_tokens_file is required (operators sign in with their token); --allow_insecure "
          "for a read-only local console");
    }
    if (intake_client.token.empty() || sync_client.token.empty() ||
        reconciliation_client.token.empty()) {
      return absl::InvalidArgumentError(
          "the console reads with its own token: --intake_token_file, --sync_token_file and "
          "--reconciliation_token_file (or --allow_insecure)");
    }
  }
  if (session_ttl < absl::Minutes(1)) {
    return absl::InvalidArgumentError("--session_ttl must be at least 1m");
  }
  if (call_timeout < absl::Milliseconds(100)) {
    return absl::InvalidArgumentError("--call_timeout must be at least 100ms");
  }
  return absl::OkStatus();
}

nlohmann::json ConsoleConfig::ToJson() const {
  auto client = [](const ClientOptions& o) {
    return nlohmann::json{{"tls", o.tls()}, {"token", o.token.empty() ? "" : "***"}};
  };
  return {{"listen", listen},
          {"intake_addr", intake_addr},
          {"sync_addr", sync_addr},
          {"reconciliation_addr", reconciliation_addr},
          {"intake_client", client(intake_client)},
          {"sync_client", client(sync_client)},
          {"reconciliation_client", client(reconciliation_client)},
          {"tokens_file", tokens_file},
          {"allow_insecure", allow_insecure},
          {"cookie_secure", cookie_secure},
          {"session_ttl", absl::FormatDuration(session_ttl)},
          {"score_period", score_period},
          {"call_timeout", absl::FormatDuration(call_timeout)}};
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const ConsoleConfig& config) {
  DS_RETURN_IF_ERROR(config.Validate());
  auto app = std::unique_ptr<App>(new App());
  App* a = app.get();
  a->config_ = config;
  DS_ASSIGN_OR_RETURN(auto intake, MakeChannel(config.intake_addr, config.intake_client));
  DS_ASSIGN_OR_RETURN(auto sync, MakeChannel(config.sync_addr, config.sync_client));
  DS_ASSIGN_OR_RETURN(auto recon,
                      MakeChannel(config.reconciliation_addr, config.reconciliation_client));
  a->backends_.intake = dossiersync::v1::IntakeService::NewStub(intake);
  a->backends_.sync = dossiersync::v1::SyncService::NewStub(sync);
  a->backends_.reconciliation = dossiersync::v1::ReconciliationService::NewStub(recon);
  if (!config.tokens_file.empty()) {
    DS_ASSIGN_OR_RETURN(a->operators_, Authenticator::FromFile(config.tokens_file));
  }
  a->sessions_ = std::make_unique<Sessions>(config.session_ttl);
  a->Routes();
  DS_ASSIGN_OR_RETURN(a->port_,
                      StartHttpServer(a->server_, config.listen, &a->thread_, "--listen"));
  return app;
}

App::~App() { Stop(); }

void App::Stop() {
  if (stopped_) return;
  stopped_ = true;
  StopHttpServer(&server_, &thread_);
}

}  // namespace dossiersync::console
