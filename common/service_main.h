// The tail of every service's main(): log the resolved configuration, start the App, wait for
// SIGTERM/SIGINT, stop gracefully.
//
// Thread safety: call from main() after BlockTerminationSignals().
#ifndef DOSSIERSYNC_COMMON_SERVICE_MAIN_H_
#define DOSSIERSYNC_COMMON_SERVICE_MAIN_H_

#include <cstdlib>
#include <fstream>
#include <string>

#include "common/log.h"
#include "common/server.h"

namespace dossiersync {

// The process's peak resident memory (VmHWM) in MiB, or -1 when /proc is not readable.
inline double PeakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return -1;
}

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
  LogInfo("stopped", {{"peak_rss_mb", PeakRssMb()}});
  return 0;
}

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_SERVICE_MAIN_H_
