#include "common/metrics.h"

#include "absl/strings/str_cat.h"

namespace dossiersync {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry) {
  auto out = std::unique_ptr<MetricsServer>(new MetricsServer());
  try {
    out->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("--metrics_listen ", listen, ": ", e.what()));
  }
  out->exposer_->RegisterCollectable(registry);
  auto ports = out->exposer_->GetListeningPorts();
  if (!ports.empty()) out->port_ = ports.front();
  return out;
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace dossiersync
