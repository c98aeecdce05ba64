// The tail of every service's main(): log the resolved configuration, start the App, wait for
// SIGTERM/SIGINT, stop gracefully.
//
// Thread safety: call from main() after BlockTerminationSignals().
#ifndef DOSSIERSYNC_COMMON_SERVICE_MAIN_H_
#define DOSSIERSYNC_COMMON_SERVICE_MAIN_H_

#include <string>

#include "common/log.h"
#include "common/server.h"

namespace dossiersync {

template <typename AppT, typename ConfigT>
int ServeUntilSignal(const ConfigT& config) {
  LogInfo("configuration", {{"config", config.ToJson()}});
  auto app = AppT::Start(config);
  if (!app.ok()) {
    LogError("start failed", {{"error", std::string(app.status().message())}});
    return 1;
  }
  LogInfo("serving",
          {{"grpc_port", (*app)->grpc_port()}, {"metrics_port", (*app)->metrics_port()}});
  std::string sig = WaitForTerminationSignal();
  LogInfo("stopping", {{"signal", sig}});
  (*app)->Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_SERVICE_MAIN_H_
