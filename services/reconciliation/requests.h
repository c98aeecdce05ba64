// Reconciliation requests: consumes dossiersync.reconciliation-requests.v1 (consumer group
// "<evidence group>-requests") and starts one repairing run per batch of requests (those that
// arrived within a second of each other), over the dossiers changed since the earliest
// `changed_since` among them, trigger "stream-lost". While another run holds the lease it tries
// again every few seconds; offsets are committed only once the run has started (a request is
// never dropped by a restart).
//
// Thread safety: Start and Stop from one thread; the consumer runs on its own thread.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_REQUESTS_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_REQUESTS_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/kafka.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/reconciliation/runner.h"

namespace dossiersync::reconciliation {

class RequestConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<RequestConsumer>> Start(const std::string& brokers,
                                                                const std::string& group,
                                                                Runner* runner,
                                                                prometheus::Registry* registry);
  ~RequestConsumer();
  void Stop();

 private:
  RequestConsumer() = default;
  void Loop();
  // Reads requests until none arrives for a second; the earliest changed_since, if any.
  std::optional<absl::Time> Collect();
  // Starts the run, retrying while another holds the lease; false when stopping.
  bool StartRun(absl::Time since);

  std::unique_ptr<KafkaConsumer> consumer_;
  Runner* runner_ = nullptr;
  prometheus::Counter* received_ = nullptr;
  prometheus::Counter* runs_ = nullptr;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_REQUESTS_H_
