// Outbox relay: publishes outbox rows in id order to dossiersync.dossier-changes.v1 with the
// idempotent producer and deletes each row only when its delivery report says the broker has it.
//
// A Kafka outage only delays: messages never expire in the producer (message.timeout.ms=0), and
// the rows stay in the outbox until acknowledged, so a crash re-publishes exactly the
// unacknowledged suffix of each partition (a repeat carries the same event-id). On a failed
// delivery or a fatal producer error the relay drains what is in flight, recreates the producer
// and starts again from the oldest remaining row.
//
// Acknowledged rows move to the published log (services/intake/published_log.h) for a retention
// window. A delivery at an offset not above one already delivered on its partition, or (checked
// every `reset_check_every`) a partition whose high watermark is not above it, means the topic was
// reset or truncated below what intake delivered: that partition's retained rows go back to the
// outbox and are published again (dossiersync_intake_topic_resets_total). Republish puts back
// what an operator asks for. Either way the relay drains what is in flight and starts again from
// the oldest row, so each dossier's changes keep their order.
//
// With several intake replicas on one database, a lease makes one relay the publisher; the others
// stand by (a takeover after the lease expires may repeat rows, always with the same event-id).
//
// Thread safety: Start/Stop from one thread; Notify and the accessors from any thread.
#ifndef DOSSIERSYNC_SERVICES_INTAKE_OUTBOX_RELAY_H_
#define DOSSIERSYNC_SERVICES_INTAKE_OUTBOX_RELAY_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka.h"
#include "common/storage/database.h"
#include "common/storage/lease.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/intake/published_log.h"

namespace dossiersync::intake {

struct RelayOptions {
  std::string brokers;
  std::string topic = kTopicDossierChanges;
  std::map<std::string, std::string> producer_config;
  int max_in_flight = 20000;  // produced but not yet acknowledged
  int read_batch = 1000;
  absl::Duration idle_poll = absl::Milliseconds(200);
  // Several intake replicas may share one database: only the holder of the lease
  // "intake-outbox-relay" publishes (renewed every ttl/3); the others stand by and take over
  // when it expires. Empty holder: storage::DefaultHolder().
  std::string holder;
  absl::Duration lease_ttl = absl::Seconds(10);
  RetentionOptions retention;
  // How often the active relay prunes the published log and compares each partition's high
  // watermark with what it delivered there.
  absl::Duration reset_check_every = absl::Seconds(10);
};

class OutboxRelay {
 public:
  OutboxRelay(storage::Database* db, RelayOptions options, prometheus::Registry& registry);
  ~OutboxRelay();

  absl::Status Start();
  // Stops reading new rows, waits up to `grace` for in-flight deliveries, records them.
  void Stop(absl::Duration grace);
  // Wakes the relay: rows were committed.
  void Notify(int rows);
  // Every retained change accepted at or after `since` is published again (operator command).
  absl::StatusOr<RepublishResult> Republish(absl::Time since);

  int64_t backlog() const { return backlog_.load(); }
  int64_t published() const { return published_.load(); }
  // Rows handed to the producer (acknowledged or not; a row produced again counts again).
  int64_t produced() const { return produced_.load(); }

 private:
  struct InFlight {
    int64_t created_at_us;
  };
  void Run();
  absl::Status EnsureProducer();
  void ProduceMore();
  void RecordDelivered();
  void OnDelivery(const DeliveryReport& report);
  // Republishes the rows of partitions whose log is gone (found by Record or by CheckTopic).
  void Republished(const std::set<int32_t>& partitions, int64_t rows, const char* how);
  // Prunes the published log and compares high watermarks with what was delivered, when due.
  void CheckTopic();
  // Takes or renews the relay lease when due; true while this replica may publish.
  bool HoldLease();

  storage::Database* db_;
  const RelayOptions options_;
  std::unique_ptr<storage::Leases> leases_;
  std::unique_ptr<PublishedLog> log_;
  bool active_ = false;                        // relay thread only: holds the lease
  absl::Time renewed_ = absl::InfinitePast();  // relay thread only
  std::unique_ptr<KafkaProducer> producer_;    // relay thread only
  int64_t cursor_ = 0;                         // relay thread only: highest id handed to Kafka
  std::map<int64_t, InFlight> in_flight_;      // relay thread only
  std::vector<Delivered> delivered_;           // relay thread only (filled by delivery callback)
  bool restart_ = false;                       // relay thread only
  absl::Time restart_after_ = absl::InfinitePast();
  absl::Time next_check_ = absl::InfinitePast();  // relay thread only
  std::atomic<bool> rewind_{false};               // Republish: start over from the oldest row

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration grace_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  std::atomic<int64_t> backlog_{0};
  std::atomic<int64_t> produced_{0};
  std::atomic<int64_t> published_{0};

  prometheus::Gauge* backlog_gauge_;
  prometheus::Counter* published_total_;
  prometheus::Counter* delivery_failures_;
  prometheus::Histogram* publish_latency_;
  prometheus::Family<prometheus::Counter>* topic_resets_;
  prometheus::Family<prometheus::Counter>* republished_;
  prometheus::Gauge* retained_;
};

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_OUTBOX_RELAY_H_
