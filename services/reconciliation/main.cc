// dossier-reconciliation: wires flags to the reconciliation App and serves until SIGTERM.
#include "common/flags.h"
#include "common/server_flags.h"
#include "common/service_main.h"
#include "services/reconciliation/app.h"

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(
      argc, argv, "dossier-reconciliation: finds and repairs drift between the province and DVCQG");
  dossiersync::ApplyLogFlags("dossier-reconciliation");
  auto config = dossiersync::reconciliation::ReconciliationConfig::FromFlags();
  if (!config.ok()) dossiersync::ConfigError(std::string(config.status().message()));
  if (auto st = config->Validate(); !st.ok()) dossiersync::ConfigError(std::string(st.message()));
  return dossiersync::ServeUntilSignal<dossiersync::reconciliation::App>(*config);
}
