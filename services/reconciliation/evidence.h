// The sync's evidence: consumes dossiersync.sync-results.v1 (consumer group
// "dossier-reconciliation") into the RunStore, in batches, committing offsets only after a batch
// is stored (at least once; storing is idempotent), and into each dossier's sync history
// (timeline_store.h) when given one. Runs use it to explain drift ("last sync
// result: revision 3 ACCEPTED at ..."), GetKpis for the sync lag percentiles.
//
// Thread safety: Start and Stop from one thread; the consumer runs on its own thread.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_EVIDENCE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_EVIDENCE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/kafka.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/reconciliation/run_store.h"
#include "services/reconciliation/timeline_store.h"

namespace dossiersync::reconciliation {

class EvidenceConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<EvidenceConsumer>> Start(const std::string& brokers,
                                                                 const std::string& group,
                                                                 RunStore* store,
                                                                 prometheus::Registry* registry,
                                                                 TimelineStore* history = nullptr);
  ~EvidenceConsumer();
  void Stop();

 private:
  EvidenceConsumer() = default;
  void Loop();
  std::unique_ptr<KafkaConsumer> consumer_;
  RunStore* store_ = nullptr;
  TimelineStore* history_ = nullptr;  // each result also kept for the dossier's timeline
  prometheus::Counter* consumed_ = nullptr;
  prometheus::Counter* undecodable_ = nullptr;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_EVIDENCE_H_
