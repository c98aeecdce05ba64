// Prometheus metrics: one registry per process, exposed on its own HTTP port at /metrics.
//
// Thread safety: prometheus-cpp metric families and metrics are thread-safe.
#ifndef DOSSIERSYNC_COMMON_METRICS_H_
#define DOSSIERSYNC_COMMON_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace dossiersync {

class MetricsServer {
 public:
  // Listens on `listen` (HOST:PORT; port 0 picks a free one) and serves `registry` at /metrics.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Registry> registry);
  int port() const { return port_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// Latency buckets in seconds, 0.5 ms .. 10 s.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_METRICS_H_
