// The sync's Kafka consumer: group `dossier-sync` on dossier-changes and sync-requests, manual
// offset commits of what the engine finished (OffsetTracker), eager and cooperative rebalances
// (revoked partitions are released by the engine before their offsets are committed), pause and
// resume of every assigned partition when the engine asks (breaker open, operator pause, too much
// pending work), and per-partition lag for metrics.
//
// Thread safety: Start/Stop from one thread; the poll loop owns the librdkafka handle.
#ifndef DOSSIERSYNC_SERVICES_SYNC_CONSUMER_H_
#define DOSSIERSYNC_SERVICES_SYNC_CONSUMER_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/sync/engine.h"
#include "services/sync/offsets.h"

namespace dossiersync::sync {

struct ConsumerOptions {
  std::string brokers;
  std::string group_id = "dossier-sync";
  std::string assignment_strategy = "cooperative-sticky";  // or "range,roundrobin" (eager)
  std::map<std::string, std::string> config;               // extra librdkafka properties
};

class Consumer {
 public:
  Consumer(ConsumerOptions options, Engine* engine, Ledger* ledger, OffsetTracker* offsets,
           prometheus::Registry& registry);
  ~Consumer();
  absl::Status Start();
  // Stops polling, releases every partition (waiting for in-flight work), commits, closes.
  void Stop();
  bool paused() const { return paused_.load(); }
  size_t assigned() const { return assigned_count_.load(); }

 private:
  static void RebalanceCb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  void Run();
  void Handle(rd_kafka_message_t* m);
  void Commit(bool sync);
  void UpdatePause();
  void UpdateLag();

  const ConsumerOptions options_;
  Engine* engine_;
  Ledger* ledger_;
  OffsetTracker* offsets_;
  rd_kafka_t* rk_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::atomic<size_t> assigned_count_{0};
  std::set<TopicPartition> assigned_;  // poll thread only
  bool lag_due_ = false;               // poll thread only: partitions were just assigned
  prometheus::Family<prometheus::Gauge>* lag_;
  prometheus::Counter* malformed_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_CONSUMER_H_
