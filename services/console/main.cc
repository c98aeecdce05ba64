// dossier-console: wires flags to the console App and serves until SIGTERM.
#include "common/flags.h"
#include "common/log.h"
#include "common/server.h"
#include "common/server_flags.h"
#include "services/console/app.h"

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(argc, argv,
                          "dossier-console: the web console of dossier-sync for officials and "
                          "operators");
  dossiersync::ApplyLogFlags("dossier-console");
  auto config = dossiersync::console::ConsoleConfig::FromFlags();
  if (!config.ok()) dossiersync::ConfigError(std::string(config.status().message()));
  if (auto st = config->Validate(); !st.ok()) dossiersync::ConfigError(std::string(st.message()));
  dossiersync::LogInfo("configuration", {{"config", config->ToJson()}});
  auto app = dossiersync::console::App::Start(*config);
  if (!app.ok()) {
    dossiersync::LogError("start failed", {{"error", std::string(app.status().message())}});
    return 1;
  }
  dossiersync::LogInfo(
      "serving",
      {{"http_port", (*app)->port()},
       {"url", absl::StrCat("http://", config->listen.substr(0, config->listen.rfind(':')), ":",
                            (*app)->port(), "/")}});
  std::string sig = dossiersync::WaitForTerminationSignal();
  dossiersync::LogInfo("stopping", {{"signal", sig}});
  (*app)->Stop();
  dossiersync::LogInfo("stopped", {});
  return 0;
}
