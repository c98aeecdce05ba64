#include "services/reconciliation/sync_progress.h"

#include "absl/strings/str_cat.h"

namespace dossiersync::reconciliation {

absl::StatusOr<std::unique_ptr<SyncProgress>> SyncProgress::Create(const std::string& brokers,
                                                                   const std::string& sync_group,
                                                                   const std::string& topic) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", brokers},
           {"group.id", sync_group},
           {"enable.auto.commit", "false"},
           {"client.id", "dossier-reconciliation-sync-progress"}}) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("kafka config ", k, ": ", err));
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  }
  auto p = std::unique_ptr<SyncProgress>(new SyncProgress());
  p->topic_ = topic;
  absl::MutexLock l(&p->mu_);
  p->rk_ = rk;
  return p;
}

SyncProgress::~SyncProgress() {
  absl::MutexLock l(&mu_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

int32_t SyncProgress::PartitionOf(const std::string& code, int32_t partitions) {
  if (partitions <= 0) return 0;
  // librdkafka's own murmur2 partitioner (murmur2_random hashes every keyed message this way).
  return rd_kafka_msg_partitioner_murmur2(nullptr, code.data(), code.size(), partitions, nullptr,
                                          nullptr);
}

absl::StatusOr<std::vector<bool>> SyncProgress::Behind(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  const int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic_.c_str(), nullptr);
  if (rkt == nullptr) return absl::InternalError("rd_kafka_topic_new failed");
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk_, 0, rkt, &md, ms);
  rd_kafka_topic_destroy(rkt);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("metadata of ", topic_, ": ", rd_kafka_err2str(e)));
  }
  int32_t n = 0;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    n = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  if (n <= 0) return absl::UnavailableError(absl::StrCat("no partitions of ", topic_));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
  for (int32_t p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(list, topic_.c_str(), p);
  e = rd_kafka_committed(rk_, list, ms);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_destroy(list);
    return absl::UnavailableError(
        absl::StrCat("the sync's committed offsets: ", rd_kafka_err2str(e)));
  }
  std::vector<bool> behind(static_cast<size_t>(n), false);
  absl::Status st;
  for (int i = 0; i < list->cnt && st.ok(); ++i) {
    const rd_kafka_topic_partition_t& tp = list->elems[i];
    int64_t low = 0, high = 0;
    e = rd_kafka_query_watermark_offsets(rk_, topic_.c_str(), tp.partition, &low, &high, ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st = absl::UnavailableError(
          absl::StrCat("watermarks of ", topic_, "[", tp.partition, "]: ", rd_kafka_err2str(e)));
      break;
    }
    if (tp.partition >= 0 && tp.partition < n) {
      behind[static_cast<size_t>(tp.partition)] = tp.offset < 0 ? high > low : tp.offset < high;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (!st.ok()) return st;
  return behind;
}

}  // namespace dossiersync::reconciliation
