// dossier-sync: wires flags to the sync App and waits for SIGTERM.
#include "common/flags.h"
#include "common/log.h"
#include "common/server.h"
#include "services/sync/app.h"

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(
      argc, argv, "dossier-sync: pushes dossier changes from Kafka to DVCQG, in order, once");
  dossiersync::ApplyLogFlags("dossier-sync");
  auto config = dossiersync::sync::SyncConfig::FromFlags();
  if (!config.ok()) dossiersync::ConfigError(std::string(config.status().message()));
  if (auto st = config->Validate(); !st.ok()) dossiersync::ConfigError(std::string(st.message()));
  dossiersync::LogInfo("configuration", {{"config", config->ToJson()}});
  auto app = dossiersync::sync::App::Start(*config);
  if (!app.ok()) {
    dossiersync::LogError("start failed", {{"error", std::string(app.status().message())}});
    return 1;
  }
  dossiersync::LogInfo(
      "serving", {{"grpc_port", (*app)->grpc_port()}, {"metrics_port", (*app)->metrics_port()}});
  std::string sig = dossiersync::WaitForTerminationSignal();
  dossiersync::LogInfo("stopping", {{"signal", sig}});
  (*app)->Stop();
  dossiersync::LogInfo("stopped");
  return 0;
}
