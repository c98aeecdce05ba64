#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/kafka.h"
#include "common/kafka_internal.h"
#include "common/log.h"

namespace dossiersync {

namespace {

rd_kafka_topic_partition_list_t* ListOf(const std::set<TopicPartition>& tps) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(tps.size());
  for (const auto& tp : tps) rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second);
  return list;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(GroupOptions o,
                                                                     RebalanceListener* listener) {
  std::map<std::string, std::string> kv = {
      {"bootstrap.servers", o.brokers},
      {"group.id", o.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset",
       o.report_offset_resets ? "error" : (o.from_beginning ? "earliest" : "latest")},
      {"enable.partition.eof", "false"},
      {"partition.assignment.strategy", o.assignment_strategy},
  };
  auto c = std::unique_ptr<KafkaConsumer>(new KafkaConsumer());
  c->store_on_poll_ = o.store_on_poll;
  c->listener_ = listener;
  auto rk = NewHandle(RD_KAFKA_CONSUMER, std::move(kv), o.config, [&](rd_kafka_conf_t* conf) {
    rd_kafka_conf_set_rebalance_cb(conf, &KafkaConsumer::RebalanceCb);
    rd_kafka_conf_set_opaque(conf, c.get());
  });
  if (!rk.ok()) return rk.status();
  c->rk_ = *rk;
  rd_kafka_poll_set_consumer(c->rk_);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(o.topics.size());
  for (const auto& t : o.topics) {
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) return absl::UnavailableError(absl::StrCat("subscribe: ", rd_kafka_err2str(e)));
  return c;
}

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(
    const std::string& brokers, const std::string& group_id, const std::vector<std::string>& topics,
    bool from_beginning, const std::map<std::string, std::string>& config) {
  GroupOptions o;
  o.brokers = brokers;
  o.group_id = group_id;
  o.topics = topics;
  o.from_beginning = from_beginning;
  o.config = config;
  return Create(std::move(o), nullptr);
}

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::CreateAssigned(
    const std::string& brokers, const std::string& topic, bool from_beginning,
    absl::Duration metadata_timeout) {
  auto c = std::unique_ptr<KafkaConsumer>(new KafkaConsumer());
  c->grouped_ = false;
  auto rk = NewHandle(RD_KAFKA_CONSUMER,
                      {{"bootstrap.servers", brokers},
                       {"group.id", "dossierctl-assigned"},
                       {"enable.auto.commit", "false"},
                       {"enable.auto.offset.store", "false"}},
                      {});
  if (!rk.ok()) return rk.status();
  c->rk_ = *rk;
  rd_kafka_poll_set_consumer(c->rk_);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(c->rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(
      c->rk_, 0, rkt, &md, static_cast<int>(absl::ToInt64Milliseconds(metadata_timeout)));
  rd_kafka_topic_destroy(rkt);
  if (e)
    return absl::UnavailableError(absl::StrCat("metadata for ", topic, ": ", rd_kafka_err2str(e)));
  int partitions = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  if (partitions == 0) return absl::NotFoundError(absl::StrCat("topic ", topic, " not found"));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset =
        from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  }
  e = rd_kafka_assign(c->rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) return absl::UnavailableError(absl::StrCat("assign: ", rd_kafka_err2str(e)));
  return c;
}

KafkaConsumer::~KafkaConsumer() {
  Close();
  if (rk_) rd_kafka_destroy(rk_);
}

void KafkaConsumer::Close() {
  if (rk_ == nullptr || closed_) return;
  closed_ = true;
  if (grouped_) rd_kafka_consumer_close(rk_);  // revokes through the listener, leaves the group
}

absl::StatusOr<std::optional<InMessage>> KafkaConsumer::Poll(int timeout_ms) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, timeout_ms);
  if (!m) return std::optional<InMessage>();
  std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> guard(
      m, rd_kafka_message_destroy);
  if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && m->rkt != nullptr) {
    // auto.offset.reset=error: the partition waits for a seek. Tell, then read from the start.
    const TopicPartition tp{rd_kafka_topic_name(m->rkt), m->partition};
    if (listener_ != nullptr) listener_->OnOffsetReset(tp, rd_kafka_message_errstr(m));
    // An absolute offset: a logical one (BEGINNING) would be resolved again by the reset path.
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk_, tp.first.c_str(), tp.second, &low, &high, 5000)) {
      low = 0;  // unknown: from 0, which the broker answers out of range if truncated (again here)
    }
    Restart(tp, low);
    return std::optional<InMessage>();
  }
  if (m->err) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || m->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      return std::optional<InMessage>();
    }
    return absl::UnavailableError(absl::StrCat("kafka consume: ", rd_kafka_message_errstr(m)));
  }
  InMessage out;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key) out.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) out.value.assign(static_cast<const char*>(m->payload), m->len);
  out.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; ++i) {
      out.headers[name] = val ? std::string(static_cast<const char*>(val), size) : "";
    }
  }
  if (grouped_ && store_on_poll_) rd_kafka_offset_store(m->rkt, m->partition, m->offset + 1);
  return std::optional<InMessage>(std::move(out));
}

absl::Status KafkaConsumer::CommitSync() {
  rd_kafka_resp_err_t e = rd_kafka_commit(rk_, nullptr, 0);
  if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    return absl::UnavailableError(absl::StrCat("commit: ", rd_kafka_err2str(e)));
  }
  return absl::OkStatus();
}

absl::Status KafkaConsumer::Commit(const std::vector<std::pair<TopicPartition, int64_t>>& offsets,
                                   bool sync) {
  if (offsets.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(offsets.size());
  for (const auto& [tp, off] : offsets) {
    rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = off;
  }
  rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list, sync ? 0 : 1);
  rd_kafka_topic_partition_list_destroy(list);
  if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    return absl::UnavailableError(absl::StrCat("commit: ", rd_kafka_err2str(e)));
  }
  return absl::OkStatus();
}

void KafkaConsumer::Restart(const TopicPartition& tp, int64_t offset) {
  // A partition whose fetch failed for want of a valid offset is in no fetch state: a seek is
  // refused (ERR__STATE), it has to be assigned again (librdkafka issue #2961).
  rd_kafka_topic_partition_list_t* one = ListOf({tp});
  one->elems[0].offset = offset;
  rd_kafka_error_t* e = nullptr;
  if (std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0) {
    e = rd_kafka_incremental_unassign(rk_, one);
    if (e == nullptr) e = rd_kafka_incremental_assign(rk_, one);
  } else {
    rd_kafka_topic_partition_list_t* all = ListOf(assigned_);  // others from their committed
    for (int i = 0; i < all->cnt; ++i) {
      if (TopicPartition{all->elems[i].topic, all->elems[i].partition} == tp) {
        all->elems[i].offset = offset;
      }
    }
    if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_, all)) {
      LogWarn("reassign after an offset reset failed", {{"error", rd_kafka_err2str(err)}});
    }
    rd_kafka_topic_partition_list_destroy(all);
  }
  if (e != nullptr) {
    LogWarn("reassign after an offset reset failed", {{"error", rd_kafka_error_string(e)}});
    rd_kafka_error_destroy(e);
  }
  if (paused_) rd_kafka_pause_partitions(rk_, one);
  rd_kafka_topic_partition_list_destroy(one);
}

void KafkaConsumer::SetPaused(bool paused) {
  if (paused == paused_) return;
  paused_ = paused;
  if (assigned_.empty()) return;  // new assignments are paused in the rebalance callback
  rd_kafka_topic_partition_list_t* list = ListOf(assigned_);
  if (paused) {
    rd_kafka_pause_partitions(rk_, list);
  } else {
    rd_kafka_resume_partitions(rk_, list);
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void KafkaConsumer::RebalanceCb(rd_kafka_t*, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<KafkaConsumer*>(opaque)->OnRebalance(err, parts);
}

void KafkaConsumer::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0;
  std::set<TopicPartition> tps;
  for (int i = 0; i < parts->cnt; ++i)
    tps.insert({parts->elems[i].topic, parts->elems[i].partition});
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    LogInfo("partitions assigned", {{"count", parts->cnt}, {"cooperative", cooperative}});
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts)) {
        LogError("incremental assign failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_, parts);
    }
    assigned_.insert(tps.begin(), tps.end());
    if (paused_) rd_kafka_pause_partitions(rk_, parts);
    if (listener_ != nullptr) listener_->OnAssigned(tps);
    return;
  }
  const bool lost = rd_kafka_assignment_lost(rk_);
  LogInfo("partitions revoked", {{"count", parts->cnt}, {"lost", lost}});
  if (listener_ != nullptr) listener_->OnRevoked(tps, lost);
  for (const auto& tp : tps) assigned_.erase(tp);
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, parts)) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk_, nullptr);
  }
}

std::vector<KafkaConsumer::Lag> KafkaConsumer::Lags() {
  std::vector<Lag> out;
  if (assigned_.empty()) return out;
  // Where consumption stands per partition: the fetch position once messages flow; before that
  // (just after a start or a rebalance) the group's committed offset, asked of the coordinator.
  // Regression: the position is unknown until the first message, and taking the low watermark
  // then reported every partition's whole size as lag after each restart.
  rd_kafka_topic_partition_list_t* list = ListOf(assigned_);
  rd_kafka_position(rk_, list);
  std::set<TopicPartition> unknown;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset < 0) unknown.insert({list->elems[i].topic, list->elems[i].partition});
  }
  std::map<TopicPartition, int64_t> committed;
  if (!unknown.empty()) {
    rd_kafka_topic_partition_list_t* ask = ListOf(unknown);
    if (rd_kafka_committed(rk_, ask, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int k = 0; k < ask->cnt; ++k) {
        committed[{ask->elems[k].topic, ask->elems[k].partition}] = ask->elems[k].offset;
      }
    }
    rd_kafka_topic_partition_list_destroy(ask);
  }
  // Watermarks: those the fetcher last saw, else asked for all at once.
  std::map<TopicPartition, int64_t> high, low;
  std::set<TopicPartition> ask_high, ask_low;
  for (int i = 0; i < list->cnt; ++i) {
    const TopicPartition tp{list->elems[i].topic, list->elems[i].partition};
    int64_t l = -1, h = -1;
    if (rd_kafka_get_watermark_offsets(rk_, tp.first.c_str(), tp.second, &l, &h) == 0 && l >= 0 &&
        h >= 0) {
      high[tp] = h;
      low[tp] = l;
      continue;
    }
    ask_high.insert(tp);
    auto c = committed.find(tp);
    if (list->elems[i].offset < 0 && c != committed.end() && c->second < 0) ask_low.insert(tp);
  }
  high.merge(BatchOffsets(rk_, ask_high, RD_KAFKA_OFFSET_END, 2000));
  low.merge(BatchOffsets(rk_, ask_low, RD_KAFKA_OFFSET_BEGINNING, 2000));
  for (int i = 0; i < list->cnt; ++i) {
    const TopicPartition tp{list->elems[i].topic, list->elems[i].partition};
    auto h = high.find(tp);
    if (h == high.end()) continue;
    int64_t pos = list->elems[i].offset;
    if (pos < 0) {
      auto c = committed.find(tp);
      if (c == committed.end()) continue;  // not known yet: no figure rather than a wrong one
      if (c->second >= 0) {
        pos = c->second;
      } else {  // nothing committed: consumption starts at low
        auto l = low.find(tp);
        if (l == low.end()) continue;
        pos = l->second;
      }
    }
    out.push_back({tp, std::max<int64_t>(0, h->second - pos)});
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

}  // namespace dossiersync
