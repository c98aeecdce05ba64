#include "common/metrics.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

namespace dossiersync {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry) {
  size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen: expected HOST:PORT, got '", listen, "'"));
  }
  std::string host = listen.substr(0, colon);
  auto out = std::unique_ptr<MetricsServer>(new MetricsServer());
  out->registry_ = std::move(registry);
  out->http_ = std::make_unique<httplib::Server>();
  out->http_->Get("/metrics",
                  [reg = out->registry_](const httplib::Request&, httplib::Response& res) {
                    res.set_content(prometheus::TextSerializer().Serialize(reg->Collect()),
                                    "text/plain; version=0.0.4");
                  });
  out->http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  out->port_ = port == 0 ? out->http_->bind_to_any_port(host)
                         : (out->http_->bind_to_port(host, port) ? port : -1);
  if (out->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("--metrics_listen ", listen, ": cannot bind"));
  }
  out->thread_ = std::thread([s = out->http_.get()] { s->listen_after_bind(); });
  return out;
}

MetricsServer::~MetricsServer() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace dossiersync
