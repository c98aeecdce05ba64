#include "services/intake/outbox_relay.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/metrics.h"

namespace dossiersync::intake {

OutboxRelay::OutboxRelay(storage::Database* db, RelayOptions options,
                         prometheus::Registry& registry)
    : db_(db), options_(std::move(options)) {
  backlog_gauge_ = &prometheus::BuildGauge()
                        .Name("dossiersync_intake_outbox_backlog")
                        .Help("Outbox rows not yet acknowledged by Kafka")
                        .Register(registry)
                        .Add({});
  published_total_ = &prometheus::BuildCounter()
                          .Name("dossiersync_intake_published_total")
                          .Help("Changes acknowledged by Kafka (delivery reports)")
                          .Register(registry)
                          .Add({});
  delivery_failures_ = &prometheus::BuildCounter()
                            .Name("dossiersync_intake_delivery_failures_total")
                            .Help("Failed delivery reports and fatal producer errors")
                            .Register(registry)
                            .Add({});
  publish_latency_ = &prometheus::BuildHistogram()
                          .Name("dossiersync_intake_publish_latency_seconds")
                          .Help("From commit of the change to its Kafka delivery report")
                          .Register(registry)
                          .Add({}, LatencyBuckets());
  topic_resets_ = &prometheus::BuildCounter()
                       .Name("dossiersync_intake_topic_resets_total")
                       .Help("Partitions found reset or truncated below what intake delivered")
                       .Register(registry);
  republished_ = &prometheus::BuildCounter()
                      .Name("dossiersync_intake_republished_total")
                      .Help(
                          "Published changes put back in the outbox to be published again, by "
                          "reason (topic_reset, operator)")
                      .Register(registry);
  retained_ = &prometheus::BuildGauge()
                   .Name("dossiersync_intake_published_retained")
                   .Help("Published changes kept for republication (retention window)")
                   .Register(registry)
                   .Add({});
}

OutboxRelay::~OutboxRelay() { Stop(absl::Seconds(1)); }

absl::Status OutboxRelay::Start() {
  auto leases = storage::Leases::Open(db_);
  if (!leases.ok()) return leases.status();
  leases_ = std::move(*leases);
  auto log = PublishedLog::Open(db_, options_.retention);
  if (!log.ok()) return log.status();
  log_ = std::move(*log);
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne("SELECT COUNT(*) FROM outbox");
  if (!row.ok()) return row.status();
  backlog_ = (*row)->Int(0);
  backlog_gauge_->Set(static_cast<double>(backlog_.load()));
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void OutboxRelay::Notify(int rows) {
  backlog_ += rows;
  backlog_gauge_->Set(static_cast<double>(backlog_.load()));
  absl::MutexLock l(&mu_);
  wake_ = true;
}

void OutboxRelay::Stop(absl::Duration grace) {
  {
    absl::MutexLock l(&mu_);
    if (stop_) return;
    stop_ = true;
    grace_ = grace;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<RepublishResult> OutboxRelay::Republish(absl::Time since) {
  if (!log_) return absl::FailedPreconditionError("the outbox relay is not running");
  auto r = log_->Republish(absl::ToUnixMicros(since));
  if (!r.ok()) return r.status();
  LogInfo("republishing on an operator's request",
          {{"since", absl::FormatTime(since)}, {"rows", r->republished}});
  republished_->Add({{"reason", "operator"}}).Increment(static_cast<double>(r->republished));
  rewind_ = true;
  Notify(static_cast<int>(r->republished));
  return r;
}

void OutboxRelay::Republished(const std::set<int32_t>& partitions, int64_t rows, const char* how) {
  for (int32_t p : partitions) {
    topic_resets_->Add({{"partition", absl::StrCat(p)}}).Increment();
    LogError(
        "topic partition reset or truncated below what intake delivered; publishing its "
        "retained changes again",
        {{"topic", options_.topic}, {"partition", static_cast<int64_t>(p)}, {"found_by", how}});
  }
  republished_->Add({{"reason", "topic_reset"}}).Increment(static_cast<double>(rows));
  backlog_ += rows;
  backlog_gauge_->Set(static_cast<double>(backlog_.load()));
  restart_ = true;  // drain what is in flight, then from the oldest row again
}

void OutboxRelay::CheckTopic() {
  if (absl::Now() < next_check_ || !producer_) return;
  next_check_ = absl::Now() + options_.reset_check_every;
  if (options_.retention.enabled()) {
    if (auto pruned = log_->Prune(absl::Now()); !pruned.ok()) {
      LogWarn("published log prune failed", {{"error", std::string(pruned.status().message())}});
    }
    if (auto n = log_->RetainedRows(); n.ok()) retained_->Set(static_cast<double>(*n));
  }
  std::set<int32_t> reset;
  const std::map<int32_t, int64_t> delivered = log_->HighOffsets();
  std::set<int32_t> partitions;
  for (const auto& [partition, high] : delivered) partitions.insert(partition);
  // All at once: one request per partition took seconds per check with hundreds of partitions,
  // on the relay's thread.
  for (const auto& [partition, wm] :
       producer_->HighWatermarks(options_.topic, partitions, absl::Seconds(2))) {
    if (wm <= delivered.at(partition)) reset.insert(partition);
  }
  if (reset.empty()) return;
  auto rows = log_->RepublishPartitions(reset);
  if (!rows.ok()) {
    LogWarn("republication after a topic reset failed; will retry",
            {{"error", std::string(rows.status().message())}});
    next_check_ = absl::InfinitePast();
    return;
  }
  Republished(reset, *rows, "watermark");
}

void OutboxRelay::OnDelivery(const DeliveryReport& report) {
  const int64_t id = report.opaque;
  const absl::Status& st = report.status;
  auto it = in_flight_.find(id);
  if (st.ok()) {
    if (it != in_flight_.end()) {
      publish_latency_->Observe(
          static_cast<double>(absl::ToUnixMicros(absl::Now()) - it->second.created_at_us) / 1e6);
    }
    delivered_.push_back(Delivered{id, report.partition, report.offset});
  } else {
    delivery_failures_->Increment();
    LogWarn("outbox delivery failed; will republish from the oldest remaining row",
            {{"outbox_id", id}, {"error", std::string(st.message())}});
    restart_ = true;
  }
  if (it != in_flight_.end()) in_flight_.erase(it);
}

absl::Status OutboxRelay::EnsureProducer() {
  if (producer_) return absl::OkStatus();
  auto p = KafkaProducer::Create(
      options_.brokers, [this](const DeliveryReport& r) { OnDelivery(r); },
      options_.producer_config);
  if (!p.ok()) return p.status();
  producer_ = std::move(*p);
  return absl::OkStatus();
}

void OutboxRelay::ProduceMore() {
  while (!restart_ && static_cast<int>(in_flight_.size()) < options_.max_in_flight) {
    auto tx = db_->BeginRead();
    if (!tx.ok()) {
      LogWarn("outbox read failed", {{"error", std::string(tx.status().message())}});
      return;
    }
    auto rows = (*tx)->Query(
        "SELECT id, code, event_id, traceparent, payload, created_at_us FROM outbox "
        "WHERE id > $1 ORDER BY id LIMIT $2",
        {cursor_, static_cast<int64_t>(options_.read_batch)});
    tx->reset();
    if (!rows.ok()) {
      LogWarn("outbox read failed", {{"error", std::string(rows.status().message())}});
      return;
    }
    for (const auto& r : *rows) {
      OutMessage m{options_.topic, r.Str(1), r.Str(4), "dossiersync.v1.DossierChange",
                   r.Str(2),       r.Str(3), r.Int(0)};
      in_flight_[m.opaque] = InFlight{r.Int(5)};
      absl::Status st = producer_->Produce(m, absl::Seconds(1));
      if (!st.ok()) {
        in_flight_.erase(m.opaque);
        delivery_failures_->Increment();
        LogWarn("outbox produce failed",
                {{"outbox_id", m.opaque}, {"error", std::string(st.message())}});
        if (st.code() != absl::StatusCode::kResourceExhausted) restart_ = true;
        return;
      }
      cursor_ = m.opaque;
      ++produced_;
    }
    if (static_cast<int>(rows->size()) < options_.read_batch) return;
  }
}

void OutboxRelay::RecordDelivered() {
  if (delivered_.empty()) return;
  auto r = log_->Record(delivered_);
  if (!r.ok()) {
    // Keep `delivered_`: recording again is harmless; a crash only re-publishes (same event-id).
    LogWarn("outbox delete failed; will retry", {{"error", std::string(r.status().message())}});
    return;
  }
  backlog_ -= r->recorded;
  published_ += r->recorded;
  published_total_->Increment(static_cast<double>(r->recorded));
  backlog_gauge_->Set(static_cast<double>(backlog_.load()));
  delivered_.clear();
  if (!r->reset_partitions.empty()) Republished(r->reset_partitions, r->republished, "delivery");
}

bool OutboxRelay::HoldLease() {
  if (absl::Now() - renewed_ < options_.lease_ttl / 3) return active_;
  const std::string holder = options_.holder.empty() ? storage::DefaultHolder() : options_.holder;
  auto held = leases_->Acquire("intake-outbox-relay", holder, options_.lease_ttl);
  if (!held.ok()) {
    LogWarn("outbox relay lease check failed", {{"error", std::string(held.status().message())}});
    return active_ = false;
  }
  renewed_ = absl::Now();
  if (*held && !active_) {
    LogInfo("outbox relay active (holds the lease)", {{"holder", holder}});
    cursor_ = 0;  // from the oldest row still in the outbox
  } else if (!*held && active_) {
    LogWarn("outbox relay lost its lease; standing by", {{"holder", holder}});
  }
  if (!*held) {
    // Standing by: another replica publishes and deletes; keep the backlog figure true.
    auto tx = db_->BeginRead();
    if (tx.ok()) {
      auto row = (*tx)->QueryOne("SELECT COUNT(*) FROM outbox");
      if (row.ok() && row->has_value()) {
        backlog_ = (*row)->Int(0);
        backlog_gauge_->Set(static_cast<double>(backlog_.load()));
      }
    }
  }
  return active_ = *held;
}

void OutboxRelay::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    bool stopping;
    {
      absl::MutexLock l(&mu_);
      stopping = stop_;
      wake_ = false;
    }
    if (stopping) break;
    if (absl::Status st = EnsureProducer(); !st.ok()) {
      LogError("kafka producer unavailable", {{"error", std::string(st.message())}});
      absl::MutexLock l(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Seconds(1));
      continue;
    }
    if (auto fatal = producer_->FatalError()) {
      LogError("kafka producer fatal error; recreating", {{"error", *fatal}});
      delivery_failures_->Increment();
      restart_ = true;
    }
    if (restart_ && in_flight_.empty() && absl::Now() >= restart_after_) {
      // Everything in flight has reported: start over from the oldest unacknowledged row.
      RecordDelivered();
      producer_.reset();
      cursor_ = 0;
      restart_ = false;
      restart_after_ = absl::Now() + backoff;
      backoff = std::min(backoff * 2, absl::Seconds(10));
      continue;
    }
    if (restart_ && producer_->FatalError()) {
      in_flight_.clear();  // a fatal producer will never report them: start over now
      continue;
    }
    if (rewind_.exchange(false)) restart_ = true;
    if (HoldLease() && absl::Now() >= restart_after_) {
      CheckTopic();
      ProduceMore();
    }
    int served = producer_->Poll(in_flight_.empty() ? 0 : 10);
    if (served > 0) backoff = absl::Milliseconds(100);
    RecordDelivered();
    if (in_flight_.empty() && served == 0) {
      absl::MutexLock l(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](OutboxRelay* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
                                 return r->stop_ || r->wake_;
                               },
                               this),
                           options_.idle_poll);
    }
  }
  // Graceful stop: hand the lease over at once (a standby replica takes it on its next check),
  // wait for what is in flight, record it.
  if (active_) {
    // Safe to ignore: a lease not released runs out by itself (and a restart here takes it over).
    (void)leases_->Release("intake-outbox-relay",
                           options_.holder.empty() ? storage::DefaultHolder() : options_.holder);
  }
  absl::Duration grace;
  {
    absl::MutexLock l(&mu_);
    grace = grace_;
  }
  if (producer_) {
    absl::Time deadline = absl::Now() + grace;
    while (!in_flight_.empty() && absl::Now() < deadline) producer_->Poll(50);
    RecordDelivered();
    if (!in_flight_.empty()) {
      LogWarn("stopping with unacknowledged outbox rows; they will be published after restart",
              {{"in_flight", static_cast<int64_t>(in_flight_.size())}});
    }
    producer_->Flush(absl::ZeroDuration()).IgnoreError();
    producer_.reset();
  }
}

}  // namespace dossiersync::intake
