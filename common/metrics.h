// Prometheus metrics: one registry per process, served on its own HTTP port at /metrics (text
// exposition format) by cpp-httplib, with the process's health beside them: /readyz and /livez
// (200 or 503, JSON detail; common/health.h), /healthz the same as /readyz. Without a Health they
// answer 200 while the process serves. prometheus-cpp's own exposer (civetweb) is not used: it
// takes seconds to stop.
//
// Thread safety: prometheus-cpp metric families and metrics are thread-safe; MetricsServer is
// started and destroyed by one thread.
#ifndef DOSSIERSYNC_COMMON_METRICS_H_
#define DOSSIERSYNC_COMMON_METRICS_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace httplib {
class Server;
}

namespace dossiersync {

class Health;

class MetricsServer {
 public:
  // Listens on `listen` (HOST:PORT; port 0 picks a free one) and serves `registry` at /metrics
  // and `health` (optional; must outlive the server) at /readyz, /livez and /healthz.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Registry> registry,
      const Health* health = nullptr);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

// Latency buckets in seconds, 0.5 ms .. 10 s.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_METRICS_H_
