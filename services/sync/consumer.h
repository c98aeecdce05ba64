// The sync's Kafka consumer: group `dossier-sync` on dossier-changes and sync-requests, manual
// offset commits of what the engine finished (OffsetTracker), eager and cooperative rebalances
// (revoked partitions are released by the engine before their offsets are committed), pause and
// resume of every assigned partition when the engine asks (breaker open, operator pause, too much
// pending work), and per-partition lag for metrics.
//
// The group membership itself (eager and cooperative rebalances, pause, lag, commits) is
// common/kafka.h's KafkaConsumer, shared with the reconciliation; this class is its listener.
//
// Thread safety: Start/Stop from one thread; the poll loop owns the Kafka consumer.
#ifndef DOSSIERSYNC_SERVICES_SYNC_CONSUMER_H_
#define DOSSIERSYNC_SERVICES_SYNC_CONSUMER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "common/kafka.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/sync/engine.h"
#include "services/sync/offsets.h"

namespace dossiersync::sync {

struct ConsumerOptions {
  std::string brokers;
  // Called (on the poll thread) when a partition's position fell off the log: the changes since
  // `changed_since` may never have been read, and a reconciliation of them is asked for.
  std::function<void(absl::Time changed_since, const std::string& reason)> request_reconciliation;
  std::string group_id = "dossier-sync";
  std::string assignment_strategy = "cooperative-sticky";  // or "range,roundrobin" (eager)
  std::map<std::string, std::string> config;               // extra librdkafka properties
};

class Consumer : public RebalanceListener {
 public:
  Consumer(ConsumerOptions options, Engine* engine, Ledger* ledger, OffsetTracker* offsets,
           prometheus::Registry& registry);
  ~Consumer() override;
  absl::Status Start();
  // Stops polling, releases every partition (waiting for in-flight work), commits, closes.
  void Stop();
  bool paused() const { return paused_.load(); }
  size_t assigned() const { return assigned_count_.load(); }

  // RebalanceListener, on the poll thread.
  void OnAssigned(const std::set<TopicPartition>& tps) override;
  void OnRevoked(const std::set<TopicPartition>& tps, bool lost) override;
  // No valid position for `tp`: a fresh start when this service never recorded one (its ledger's
  // sync_offsets), else the stream was lost below us: counted, logged, reconciliation requested.
  void OnOffsetReset(const TopicPartition& tp, const std::string& detail) override;

 private:
  void Run();
  void Handle(const InMessage& m);
  void HandleSyncRequest(const InMessage& m, const TopicPartition& tp,
                         const std::string& traceparent);
  // A message that does not decode: counted, logged, its offset done.
  void Skip(const InMessage& m, const TopicPartition& tp, const char* why);
  void Commit(bool sync);
  void UpdatePause();
  void UpdateLag();

  const ConsumerOptions options_;
  Engine* engine_;
  Ledger* ledger_;
  OffsetTracker* offsets_;
  std::unique_ptr<KafkaConsumer> kafka_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::atomic<size_t> assigned_count_{0};
  bool lag_due_ = false;  // poll thread only: partitions were just assigned
  // Poll thread only: the Kafka timestamp (ms) of each read offset not yet committed, and of the
  // last one read, per partition; a commit records the position with its message's time.
  std::map<TopicPartition, std::map<int64_t, int64_t>> read_times_;
  std::map<TopicPartition, int64_t> last_read_time_;
  prometheus::Family<prometheus::Counter>* stream_lost_;
  prometheus::Family<prometheus::Gauge>* lag_;
  prometheus::Counter* malformed_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_CONSUMER_H_
