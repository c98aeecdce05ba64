// Kafka clients on librdkafka's C API.
//
// KafkaProducer: idempotent (enable.idempotence, acks=all, ordered per partition), murmur2
// partitioner on the key (one dossier's messages in one partition, like Java clients), and the
// SPEC §5 headers on every message. Success is the delivery report, delivered through the callback
// from Poll(); Produce() only enqueues, polling while the local queue is full.
//
// KafkaConsumer (common/kafka_consumer.cc): the one group consumer of the services (the sync on
// dossier-changes and sync-requests, the reconciliation on sync-results), and an assigned reader
// without a group for tools and tests. Manual commits only: either explicit offsets (Commit) or
// what Poll stored (CommitStored). Eager and cooperative rebalances are both handled here; a
// RebalanceListener hears of partitions assigned and, before they are let go, revoked (so that it
// can finish their work and commit). Pause holds every assigned partition (new ones included)
// until Resume. Lag per assigned partition from the fetch position, or the committed offset
// before the first message.
//
// Thread safety: KafkaProducer::Produce and Poll may be called from any thread (librdkafka is
// thread-safe), but the delivery callback runs on the thread calling Poll/Flush.
// KafkaConsumer is used by one thread; its listener is called on that thread, inside Poll and
// Close.
#ifndef DOSSIERSYNC_COMMON_KAFKA_H_
#define DOSSIERSYNC_COMMON_KAFKA_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dossiersync {

using TopicPartition = std::pair<std::string, int32_t>;

// The topics of SPEC §5.
inline constexpr char kTopicDossierChanges[] = "dossiersync.dossier-changes.v1";
inline constexpr char kTopicSyncRequests[] = "dossiersync.sync-requests.v1";
inline constexpr char kTopicSyncResults[] = "dossiersync.sync-results.v1";
inline constexpr char kTopicDeadLetters[] = "dossiersync.sync-deadletters.v1";
inline constexpr char kTopicReconciliationRuns[] = "dossiersync.reconciliation-runs.v1";
inline constexpr char kTopicDrift[] = "dossiersync.drift.v1";
inline constexpr char kTopicReconciliationRequests[] = "dossiersync.reconciliation-requests.v1";
const std::vector<std::string>& AllTopics();
// The protobuf message name carried by `topic` ("" if unknown).
std::string SchemaOfTopic(const std::string& topic);

struct OutMessage {
  std::string topic;
  std::string key;
  std::string value;   // serialized protobuf
  std::string schema;  // full message name, e.g. dossiersync.v1.DossierChange
  std::string event_id;
  std::string traceparent;
  int64_t opaque = 0;  // handed back in the delivery report
};

using DeliveryCallback = std::function<void(int64_t opaque, const absl::Status& status)>;
// Where a delivered message landed (partition -1 and offset -1 when it failed).
struct DeliveryReport {
  int64_t opaque = 0;
  absl::Status status;
  int32_t partition = -1;
  int64_t offset = -1;
};
using DeliveryReportCallback = std::function<void(const DeliveryReport& report)>;

class KafkaProducer {
 public:
  // `config` entries override the defaults (any librdkafka producer property).
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(
      const std::string& brokers, DeliveryCallback on_delivery,
      const std::map<std::string, std::string>& config = {});
  // The same, told where each message landed.
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(
      const std::string& brokers, DeliveryReportCallback on_report,
      const std::map<std::string, std::string>& config = {});
  ~KafkaProducer();

  // Enqueues one message. While the local queue is full it polls (serving delivery reports) and
  // retries until `queue_wait` passes; then RESOURCE_EXHAUSTED. A fatal producer error is
  // FAILED_PRECONDITION: the producer must be recreated.
  absl::Status Produce(const OutMessage& m, absl::Duration queue_wait = absl::Seconds(5));
  // Serves delivery reports; returns how many were served.
  int Poll(int timeout_ms);
  // Waits for every queued message's delivery report.
  absl::Status Flush(absl::Duration timeout);
  int OutQueueLen() const;
  // The fatal error, if the idempotent producer has hit one.
  std::optional<std::string> FatalError() const;
  // The high watermarks of `partitions` of `topic`, asked of the brokers in one request per
  // leader; partitions that did not answer within `timeout` are missing.
  std::map<int32_t, int64_t> HighWatermarks(const std::string& topic,
                                            const std::set<int32_t>& partitions,
                                            absl::Duration timeout);

 private:
  KafkaProducer() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  rd_kafka_t* rk_ = nullptr;
  DeliveryReportCallback on_report_;
};

struct InMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
  int64_t timestamp_ms = 0;
};

// Told of a group consumer's partitions changing hands, on the polling thread.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void OnAssigned(const std::set<TopicPartition>& tps) = 0;
  // Before the partitions are let go: the last moment to commit their offsets (unless `lost`:
  // another member may own them already, a commit would be refused).
  virtual void OnRevoked(const std::set<TopicPartition>& tps, bool lost) = 0;
  // With GroupOptions.report_offset_resets: `tp` had no valid position (no committed offset, or
  // the committed one is no longer on the log: retention or truncation passed it, the topic was
  // recreated). Consumption of `tp` goes on from the log's beginning after this returns.
  virtual void OnOffsetReset(const TopicPartition& tp, const std::string& detail) {
    (void)tp;
    (void)detail;
  }
};

struct GroupOptions {
  std::string brokers;
  std::string group_id;
  std::vector<std::string> topics;
  bool from_beginning = true;  // auto.offset.reset for partitions without a committed offset
  std::string assignment_strategy = "cooperative-sticky";  // or "range,roundrobin" (eager)
  // Poll stores each message's next offset for CommitStored; off when offsets are committed
  // explicitly (Commit) after out-of-order processing.
  bool store_on_poll = true;
  // Instead of librdkafka's silent reset, tell the listener (OnOffsetReset) each time a partition
  // has no valid position, then read it from the beginning.
  bool report_offset_resets = false;
  std::map<std::string, std::string> config;  // librdkafka properties over the defaults
};

class KafkaConsumer {
 public:
  // A member of `options.group_id`; `listener` (may be null) must outlive the consumer.
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(GroupOptions options,
                                                               RebalanceListener* listener);
  // Short form for a group consumer without a listener.
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(
      const std::string& brokers, const std::string& group_id,
      const std::vector<std::string>& topics, bool from_beginning,
      const std::map<std::string, std::string>& config = {});
  // Without a group: assigns every partition of `topic` from the beginning (or the end).
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> CreateAssigned(
      const std::string& brokers, const std::string& topic, bool from_beginning,
      absl::Duration metadata_timeout = absl::Seconds(10));
  ~KafkaConsumer();
  // One message, or nullopt on timeout / partition EOF. Errors other than transient ones are
  // returned.
  absl::StatusOr<std::optional<InMessage>> Poll(int timeout_ms);
  // Commits what Poll stored.
  absl::Status CommitSync();
  // Commits these offsets (each the next offset to read); `sync` waits for the answer.
  absl::Status Commit(const std::vector<std::pair<TopicPartition, int64_t>>& offsets, bool sync);
  // Pauses (or resumes) every assigned partition, and those assigned later while paused.
  void SetPaused(bool paused);
  const std::set<TopicPartition>& assigned() const { return assigned_; }
  struct Lag {
    TopicPartition tp;
    int64_t lag = 0;
  };
  // Per assigned partition whose position is known: the high watermark minus where consumption
  // stands. Asks the brokers (bounded waits): call every few seconds, not per message.
  std::vector<Lag> Lags();
  // Leaves the group (the listener hears the revocation first). Idempotent.
  void Close();

 private:
  KafkaConsumer() = default;
  static void RebalanceCb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  // Assigns `tp` again, to be read from `offset`.
  void Restart(const TopicPartition& tp, int64_t offset);
  rd_kafka_t* rk_ = nullptr;
  bool grouped_ = true;
  bool store_on_poll_ = true;
  bool closed_ = false;
  bool paused_ = false;
  RebalanceListener* listener_ = nullptr;
  std::set<TopicPartition> assigned_;
};

// Routes librdkafka's log lines to our JSON log.
void InstallKafkaLogger(rd_kafka_conf_t* conf);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_KAFKA_H_
