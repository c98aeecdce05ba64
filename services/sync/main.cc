// dossier-sync: wires flags to the sync App and serves until SIGTERM.
#include "common/flags.h"
#include "common/server_flags.h"
#include "common/service_main.h"
#include "services/sync/app.h"

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(
      argc, argv, "dossier-sync: pushes dossier changes from Kafka to DVCQG, in order, once");
  dossiersync::ApplyLogFlags("dossier-sync");
  auto config = dossiersync::sync::SyncConfig::FromFlags();
  if (!config.ok()) dossiersync::ConfigError(std::string(config.status().message()));
  if (auto st = config->Validate(); !st.ok()) dossiersync::ConfigError(std::string(st.message()));
  return dossiersync::ServeUntilSignal<dossiersync::sync::App>(*config);
}
