#include "services/reconciliation/evidence.h"

#include <vector>

#include "absl/time/clock.h"
#include "common/log.h"

namespace dossiersync::reconciliation {

absl::StatusOr<std::unique_ptr<EvidenceConsumer>> EvidenceConsumer::Start(
    const std::string& brokers, const std::string& group, RunStore* store,
    prometheus::Registry* registry, TimelineStore* history) {
  auto c = std::unique_ptr<EvidenceConsumer>(new EvidenceConsumer());
  auto consumer = KafkaConsumer::Create(brokers, group, {kTopicSyncResults},
                                        /*from_beginning=*/true,
                                        {{"partition.assignment.strategy", "cooperative-sticky"}});
  if (!consumer.ok()) return consumer.status();
  c->consumer_ = std::move(*consumer);
  c->store_ = store;
  c->history_ = history;
  auto& family = prometheus::BuildCounter()
                     .Name("dossiersync_reconciliation_sync_results_total")
                     .Help("sync-results messages consumed as evidence")
                     .Register(*registry);
  c->consumed_ = &family.Add({{"result", "stored"}});
  c->undecodable_ = &family.Add({{"result", "undecodable"}});
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

EvidenceConsumer::~EvidenceConsumer() { Stop(); }

void EvidenceConsumer::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  consumer_.reset();
}

void EvidenceConsumer::Loop() {
  constexpr size_t kBatch = 500;
  const absl::Duration kLinger = absl::Milliseconds(200);
  std::vector<dossiersync::v1::SyncResult> batch;
  absl::Time first = absl::InfiniteFuture();
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_.HasBeenNotified()) {
    if (batch.size() < kBatch && absl::Now() - first < kLinger) {
      auto m = consumer_->Poll(50);
      if (!m.ok()) {
        LogWarn("sync-results consume failed", {{"error", std::string(m.status().message())}});
      } else if (m->has_value()) {
        dossiersync::v1::SyncResult r;
        if (!r.ParseFromString((*m)->value)) {
          undecodable_->Increment();
          LogWarn("undecodable sync-result skipped",
                  {{"partition", (*m)->partition}, {"offset", (*m)->offset}});
        } else {
          if (batch.empty()) first = absl::Now();
          batch.push_back(std::move(r));
        }
      }
      if (batch.empty()) first = absl::InfiniteFuture();
      if (batch.size() < kBatch && (batch.empty() || absl::Now() - first < kLinger)) continue;
    }
    // Store, then commit what was polled; on a database error keep the batch and retry.
    absl::Status st = store_->RecordSyncResults(batch);
    if (st.ok() && history_ != nullptr) st = history_->Record(batch);
    if (!st.ok()) {
      LogWarn("sync evidence not stored; retrying", {{"error", std::string(st.message())}});
      stop_.WaitForNotificationWithTimeout(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(100);
    consumed_->Increment(static_cast<double>(batch.size()));
    batch.clear();
    first = absl::InfiniteFuture();
    if (auto st = consumer_->CommitSync(); !st.ok()) {
      LogWarn("sync-results offset commit failed", {{"error", std::string(st.message())}});
    }
  }
}

}  // namespace dossiersync::reconciliation
