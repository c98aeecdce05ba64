#include "common/kafka.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka_internal.h"
#include "common/log.h"

namespace dossiersync {
namespace {

absl::Status SetAll(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& kv) {
  char err[512];
  for (const auto& [k, v] : kv) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka config ", k, "=", v, ": ", err));
    }
  }
  return absl::OkStatus();
}

void LogCallback(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  LogLevel l = level <= 3   ? LogLevel::kError
               : level <= 4 ? LogLevel::kWarn
               : level <= 6 ? LogLevel::kInfo
                            : LogLevel::kDebug;
  Log(l, "librdkafka", {{"client", rd_kafka_name(rk)}, {"facility", fac}, {"detail", buf}});
}

}  // namespace

absl::StatusOr<rd_kafka_t*> NewHandle(rd_kafka_type_t type, std::map<std::string, std::string> kv,
                                      const std::map<std::string, std::string>& overrides,
                                      const std::function<void(rd_kafka_conf_t*)>& configure) {
  for (const auto& [k, v] : overrides) kv[k] = v;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (auto st = SetAll(conf, kv); !st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  InstallKafkaLogger(conf);
  if (configure) configure(conf);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka client: ", err));
  }
  return rk;
}

const std::vector<std::string>& AllTopics() {
  static const std::vector<std::string> kAll = {
      kTopicDossierChanges,     kTopicSyncRequests, kTopicSyncResults,           kTopicDeadLetters,
      kTopicReconciliationRuns, kTopicDrift,        kTopicReconciliationRequests};
  return kAll;
}

std::string SchemaOfTopic(const std::string& topic) {
  static const std::map<std::string, std::string> kSchemas = {
      {kTopicDossierChanges, "dossiersync.v1.DossierChange"},
      {kTopicSyncRequests, "dossiersync.v1.SyncRequest"},
      {kTopicSyncResults, "dossiersync.v1.SyncResult"},
      {kTopicDeadLetters, "dossiersync.v1.DeadLetter"},
      {kTopicReconciliationRuns, "dossiersync.v1.ReconciliationRun"},
      {kTopicReconciliationRequests, "dossiersync.v1.ReconciliationRequest"},
      {kTopicDrift, "dossiersync.v1.DriftItem"}};
  auto it = kSchemas.find(topic);
  return it == kSchemas.end() ? "" : it->second;
}

void InstallKafkaLogger(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, LogCallback); }

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const std::string& brokers, DeliveryCallback on_delivery,
    const std::map<std::string, std::string>& config) {
  DeliveryReportCallback on_report;
  if (on_delivery) {
    on_report = [cb = std::move(on_delivery)](const DeliveryReport& r) { cb(r.opaque, r.status); };
  }
  return Create(brokers, std::move(on_report), config);
}

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const std::string& brokers, DeliveryReportCallback on_report,
    const std::map<std::string, std::string>& config) {
  if (brokers.empty()) return absl::InvalidArgumentError("--kafka_brokers is empty");
  std::map<std::string, std::string> kv = {
      {"bootstrap.servers", brokers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"partitioner", "murmur2_random"},
      {"linger.ms", "5"},
      {"message.timeout.ms", "0"},  // never expire: a Kafka outage delays, never drops
      {"message.max.bytes", "10000000"},
      {"queue.buffering.max.messages", "200000"},
      {"compression.type", "lz4"},
  };
  auto p = std::unique_ptr<KafkaProducer>(new KafkaProducer());
  p->on_report_ = std::move(on_report);
  auto rk = NewHandle(RD_KAFKA_PRODUCER, std::move(kv), config, [&](rd_kafka_conf_t* conf) {
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::OnDelivery);
    rd_kafka_conf_set_opaque(conf, p.get());
  });
  if (!rk.ok()) return rk.status();
  p->rk_ = *rk;
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (rk_) {
    rd_kafka_flush(rk_, 2000);
    rd_kafka_destroy(rk_);
  }
}

void KafkaProducer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (!self->on_report_) return;
  DeliveryReport r;
  r.opaque = reinterpret_cast<intptr_t>(m->_private);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    r.partition = m->partition;
    r.offset = m->offset;
  } else {
    r.status = absl::UnavailableError(rd_kafka_err2str(m->err));
  }
  self->on_report_(r);
}

// rd_kafka_offsets_for_times takes -1 / -2 as timestamps meaning latest / earliest. Regression: one
// rd_kafka_query_watermark_offsets per partition took 20 s over 1,000 partitions not yet fetching,
// every 2 s, on the sync's consume thread (it read nothing meanwhile), and seconds of every 10 s
// on intake's relay thread (its topic check over 500 partitions).
std::map<std::pair<std::string, int32_t>, int64_t> BatchOffsets(
    rd_kafka_t* rk, const std::set<std::pair<std::string, int32_t>>& tps, int64_t which,
    int timeout_ms) {
  std::map<std::pair<std::string, int32_t>, int64_t> out;
  if (tps.empty()) return out;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(tps.size()));
  for (const auto& tp : tps) {
    rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = which;
  }
  if (rd_kafka_offsets_for_times(rk, list, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[i].offset >= 0) {
        out[{list->elems[i].topic, list->elems[i].partition}] = list->elems[i].offset;
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

std::map<int32_t, int64_t> KafkaProducer::HighWatermarks(const std::string& topic,
                                                         const std::set<int32_t>& partitions,
                                                         absl::Duration timeout) {
  std::set<std::pair<std::string, int32_t>> tps;
  for (int32_t p : partitions) tps.insert({topic, p});
  std::map<int32_t, int64_t> out;
  for (const auto& [tp, high] : BatchOffsets(
           rk_, tps, RD_KAFKA_OFFSET_END, static_cast<int>(absl::ToInt64Milliseconds(timeout)))) {
    out[tp.second] = high;
  }
  return out;
}

absl::Status KafkaProducer::Produce(const OutMessage& m, absl::Duration queue_wait) {
  absl::Time deadline = absl::Now() + queue_wait;
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(m.topic.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("content-type", "application/x-protobuf", -1),
        RD_KAFKA_V_HEADER("schema", m.schema.c_str(), -1),
        RD_KAFKA_V_HEADER("event-id", m.event_id.c_str(), -1),
        RD_KAFKA_V_HEADER("traceparent", m.traceparent.c_str(), -1),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(m.opaque))),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (absl::Now() > deadline) return absl::ResourceExhaustedError("kafka producer queue full");
      rd_kafka_poll(rk_, 50);
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      return absl::FailedPreconditionError(absl::StrCat("kafka producer fatal: ", *FatalError()));
    }
    return absl::InvalidArgumentError(absl::StrCat("kafka produce: ", rd_kafka_err2str(err)));
  }
}

int KafkaProducer::Poll(int timeout_ms) { return rd_kafka_poll(rk_, timeout_ms); }

absl::Status KafkaProducer::Flush(absl::Duration timeout) {
  rd_kafka_resp_err_t err =
      rd_kafka_flush(rk_, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("kafka flush: ", rd_kafka_err2str(err), ", ",
                                                  rd_kafka_outq_len(rk_), " messages left"));
}

int KafkaProducer::OutQueueLen() const { return rd_kafka_outq_len(rk_); }

std::optional<std::string> KafkaProducer::FatalError() const {
  char buf[512];
  if (rd_kafka_fatal_error(rk_, buf, sizeof(buf)) == RD_KAFKA_RESP_ERR_NO_ERROR)
    return std::nullopt;
  return std::string(buf);
}

}  // namespace dossiersync
