#include "services/sync/consumer.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "prometheus/counter.h"

namespace dossiersync::sync {

Consumer::Consumer(ConsumerOptions options, Engine* engine, Ledger* ledger, OffsetTracker* offsets,
                   prometheus::Registry& registry)
    : options_(std::move(options)), engine_(engine), ledger_(ledger), offsets_(offsets) {
  lag_ = &prometheus::BuildGauge()
              .Name("dossiersync_sync_consumer_lag")
              .Help("Messages behind the partition's high watermark")
              .Register(registry);
  malformed_ = &prometheus::BuildCounter()
                    .Name("dossiersync_sync_malformed_messages_total")
                    .Help("Kafka messages that did not decode (skipped)")
                    .Register(registry)
                    .Add({});
}

Consumer::~Consumer() { Stop(); }

absl::Status Consumer::Start() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::map<std::string, std::string> kv = {
      {"bootstrap.servers", options_.brokers},
      {"group.id", options_.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", options_.assignment_strategy},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"},
      // Bounded prefetch: memory stays flat while the engine (or DVCQG) is slow.
      {"queued.min.messages", "1000"},
      // Low latency: the mock broker (and idle real ones) answer a fetch only after this wait.
      {"fetch.wait.max.ms", "20"},
      {"queued.max.messages.kbytes", "16384"},
  };
  for (const auto& [k, v] : options_.config) kv[k] = v;
  for (const auto& [k, v] : kv) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("kafka consumer ", k, ": ", err));
    }
  }
  InstallKafkaLogger(conf);
  rd_kafka_conf_set_rebalance_cb(conf, &Consumer::RebalanceCb);
  rd_kafka_conf_set_opaque(conf, this);
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!rk_) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  }
  rd_kafka_poll_set_consumer(rk_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(topics, kTopicDossierChanges, RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add(topics, kTopicSyncRequests, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) return absl::UnavailableError(absl::StrCat("subscribe: ", rd_kafka_err2str(e)));
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Consumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (rk_) {
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }
}

void Consumer::RebalanceCb(rd_kafka_t*, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<Consumer*>(opaque)->OnRebalance(err, parts);
}

void Consumer::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0;
  std::set<TopicPartition> tps;
  for (int i = 0; i < parts->cnt; ++i)
    tps.insert({parts->elems[i].topic, parts->elems[i].partition});
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    LogInfo("partitions assigned", {{"count", parts->cnt}, {"cooperative", cooperative}});
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts);
      if (e) {
        LogError("incremental assign failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_, parts);
    }
    assigned_.insert(tps.begin(), tps.end());
    if (paused_) rd_kafka_pause_partitions(rk_, parts);
    lag_due_ = true;  // the lag of new partitions is known from the first moment
  } else {
    bool lost = rd_kafka_assignment_lost(rk_);
    LogInfo("partitions revoked", {{"count", parts->cnt}, {"lost", lost}});
    // Finish (or drop) the work of these partitions, then commit what is done, then let go.
    engine_->Release(tps);
    if (!lost) Commit(/*sync=*/true);
    for (const auto& tp : tps) {
      offsets_->Remove(tp);
      assigned_.erase(tp);
      // Its lag is the new owner's to report: a frozen figure here would mislead the alert.
      lag_->Remove(&lag_->Add({{"topic", tp.first}, {"partition", absl::StrCat(tp.second)}}));
    }
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, parts);
      if (e) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk_, nullptr);
    }
  }
  assigned_count_ = assigned_.size();
}

void Consumer::Handle(rd_kafka_message_t* m) {
  TopicPartition tp{rd_kafka_topic_name(m->rkt), m->partition};
  std::string value(static_cast<const char*>(m->payload ? m->payload : ""), m->len);
  offsets_->Add(tp, m->offset);
  std::string traceparent;
  rd_kafka_headers_t* hdrs = nullptr;
  const void* tv = nullptr;
  size_t tsize = 0;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_header_get_last(hdrs, "traceparent", &tv, &tsize) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      tv != nullptr) {
    traceparent.assign(static_cast<const char*>(tv), tsize);
  }
  ScopedTrace trace(traceparent);
  auto skip = [&](const std::string& why) {
    malformed_->Increment();
    LogError(
        "skipping a message",
        {{"topic", tp.first}, {"partition", tp.second}, {"offset", m->offset}, {"reason", why}});
    offsets_->Done(tp, m->offset);
  };
  if (tp.first == kTopicDossierChanges) {
    Work w;
    if (!w.change.ParseFromString(value) || w.change.dossier().code().empty()) {
      return skip("not a DossierChange");
    }
    w.tp = tp;
    w.offset = m->offset;
    w.traceparent = traceparent;
    engine_->Enqueue(std::move(w));
    return;
  }
  dossiersync::v1::SyncRequest req;
  if (!req.ParseFromString(value) || req.code().empty()) return skip("not a SyncRequest");
  auto latest = ledger_->Latest(req.code());
  if (!latest.ok() || !latest->has_value()) {
    LogWarn("sync request for a dossier never seen; nothing to push", {{"code", req.code()}});
    offsets_->Done(tp, m->offset);
    return;
  }
  // Safe to ignore: without the recheck a full resync still sends the snapshot; the steps are
  // verified on the next uncertain push or reconciliation.
  if (req.full()) (void)ledger_->RecheckSteps(req.code());
  Work w;
  w.change = std::move(**latest);
  w.tp = tp;
  w.offset = m->offset;
  w.force = true;
  w.traceparent = traceparent;
  engine_->Enqueue(std::move(w));
}

void Consumer::Commit(bool sync) {
  auto commits = offsets_->TakeCommittable();
  if (commits.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(commits.size());
  for (const auto& [tp, off] : commits) {
    rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = off;
  }
  rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list, sync ? 0 : 1);
  if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    LogWarn("offset commit failed; the next commit covers it", {{"error", rd_kafka_err2str(e)}});
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void Consumer::UpdatePause() {
  bool want = engine_->ShouldPause();
  if (want == paused_) return;
  if (assigned_.empty()) {
    paused_ = want;  // new assignments are paused in the rebalance callback
    return;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(assigned_.size());
  for (const auto& tp : assigned_)
    rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second);
  if (want) {
    rd_kafka_pause_partitions(rk_, list);
    LogWarn("consumption paused", {{"breaker_open", engine_->breaker_open()},
                                   {"operator", engine_->operator_paused()},
                                   {"pending", static_cast<int64_t>(engine_->pending())}});
  } else {
    rd_kafka_resume_partitions(rk_, list);
    LogInfo("consumption resumed");
  }
  rd_kafka_topic_partition_list_destroy(list);
  paused_ = want;
}

void Consumer::UpdateLag() {
  if (assigned_.empty()) return;
  // Where consumption stands per partition: the fetch position once messages flow; before that
  // (just after a start or a rebalance) the group's committed offset, asked of the coordinator.
  // Regression: the position is unknown until the first message, and taking the low watermark
  // then reported every partition's whole size as lag after each restart.
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(assigned_.size());
  for (const auto& tp : assigned_) {
    rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second);
  }
  rd_kafka_position(rk_, list);
  std::vector<int> unknown;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset < 0) unknown.push_back(i);
  }
  std::map<int, int64_t> committed;
  if (!unknown.empty()) {
    rd_kafka_topic_partition_list_t* ask = rd_kafka_topic_partition_list_new(unknown.size());
    for (int i : unknown) {
      rd_kafka_topic_partition_list_add(ask, list->elems[i].topic, list->elems[i].partition);
    }
    if (rd_kafka_committed(rk_, ask, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (size_t k = 0; k < unknown.size(); ++k) committed[unknown[k]] = ask->elems[k].offset;
    }
    rd_kafka_topic_partition_list_destroy(ask);
  }
  for (int i = 0; i < list->cnt; ++i) {
    const char* topic = list->elems[i].topic;
    const int32_t partition = list->elems[i].partition;
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_, topic, partition, &low, &high) || low < 0 || high < 0) {
      if (rd_kafka_query_watermark_offsets(rk_, topic, partition, &low, &high, 1000)) continue;
    }
    int64_t pos = list->elems[i].offset;
    if (pos < 0) {
      auto c = committed.find(i);
      if (c == committed.end()) continue;      // not known yet: no figure rather than a wrong one
      pos = c->second >= 0 ? c->second : low;  // nothing committed: consumption starts at low
    }
    lag_->Add({{"topic", topic}, {"partition", absl::StrCat(partition)}})
        .Set(static_cast<double>(std::max<int64_t>(0, high - pos)));
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void Consumer::Run() {
  absl::Time last_commit = absl::Now(), last_lag = absl::InfinitePast();
  while (!stop_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 50);
    if (m) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Handle(m);
        UpdatePause();  // stop at once when the engine has enough
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        LogWarn("consumer error", {{"error", rd_kafka_message_errstr(m)}});
      }
      rd_kafka_message_destroy(m);
    }
    absl::Time now = absl::Now();
    if (now - last_commit > absl::Milliseconds(200)) {
      Commit(false);
      UpdatePause();
      last_commit = now;
    }
    if (now - last_lag > absl::Seconds(2) || lag_due_) {
      lag_due_ = false;
      UpdateLag();
      last_lag = now;
    }
  }
  Commit(true);
  rd_kafka_consumer_close(rk_);  // revokes (engine releases, commits) and leaves the group
}

}  // namespace dossiersync::sync
