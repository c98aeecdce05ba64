// The console's pages, each rendered from the services' answers at request time. A service that
// does not answer leaves its part of the page saying so ("Not available: ...") and the rest is
// still shown. Element ids name the figures (e.g. id="province-in-sync") so that the browser
// tests can compare them with what the services answer.
//
// Thread safety: thread-safe (the stubs are).
#ifndef DOSSIERSYNC_SERVICES_CONSOLE_PAGES_H_
#define DOSSIERSYNC_SERVICES_CONSOLE_PAGES_H_

#include <string>

#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/console/app.h"
#include "services/console/html.h"

namespace dossiersync::console {

struct PageInput {
  PageContext ctx;
  Backends* backends;
  const ConsoleConfig* config;
  std::string notice;  // an action's outcome, shown at the top ("ok:..." or "error:...")
};

// `period` (GetScoreRequest.period) empty: the configured --score_period.
std::string OverviewPage(const PageInput& in, const std::string& period = "");
// `run_id` empty: the latest run. `kind` 0: every kind.
std::string DriftPage(const PageInput& in, const std::string& run_id, int kind);
// *status: 200, 404 (nothing knows the code) or 400 (a bad code).
std::string DossierPage(const PageInput& in, const std::string& code, int* status);
std::string DeadLettersPage(const PageInput& in, const std::string& agency,
                            const std::string& reason_contains);
std::string RunsPage(const PageInput& in);
std::string SignInPage(const PageInput& in, const std::string& error);
// A page with only a message (refusals, errors).
std::string MessagePage(const PageInput& in, const std::string& title, const std::string& cls,
                        const std::string& text);

// "2026-12-07 20:01:02" in Vietnam time (UTC+7); "–" when unset.
std::string VnTime(const google::protobuf::Timestamp& t);
// "1.2 s", "340 ms", "3 min 5 s".
std::string DurationText(const google::protobuf::Duration& d);
// A context for reading (the console's own credentials) or acting (`token` overrides).
std::unique_ptr<grpc::ClientContext> CallContext(const ConsoleConfig& config,
                                                 const ClientOptions& options,
                                                 const std::string& token = "");

}  // namespace dossiersync::console

#endif  // DOSSIERSYNC_SERVICES_CONSOLE_PAGES_H_
