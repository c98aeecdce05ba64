#include "common/metrics.h"

#include "absl/strings/str_cat.h"
#include "common/health.h"
#include "common/http_server.h"
#include "prometheus/text_serializer.h"

namespace dossiersync {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::shared_ptr<prometheus::Registry> registry,
    const Health* health) {
  auto out = std::unique_ptr<MetricsServer>(new MetricsServer());
  out->registry_ = std::move(registry);
  out->http_ = std::make_unique<httplib::Server>();
  out->http_->Get("/metrics",
                  [reg = out->registry_](const httplib::Request&, httplib::Response& res) {
                    res.set_content(prometheus::TextSerializer().Serialize(reg->Collect()),
                                    "text/plain; version=0.0.4");
                  });
  auto probe = [health](bool ready) {
    return [health, ready](const httplib::Request&, httplib::Response& res) {
      if (health == nullptr)
        return res.set_content("{\"ready\":true,\"live\":true}\n", "application/json");
      Health::Report r = health->Get();
      res.status = (ready ? r.ready : r.live) ? 200 : 503;
      res.set_content(r.detail.dump() + "\n", "application/json");
    };
  };
  out->http_->Get("/readyz", probe(true));
  out->http_->Get("/healthz", probe(true));
  out->http_->Get("/livez", probe(false));
  auto port = StartHttpServer(*out->http_, listen, &out->thread_, "--metrics_listen");
  if (!port.ok()) return port.status();
  out->port_ = *port;
  return out;
}

MetricsServer::~MetricsServer() { StopHttpServer(http_.get(), &thread_); }

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace dossiersync
