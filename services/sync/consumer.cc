#include "services/sync/consumer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "prometheus/counter.h"

namespace dossiersync::sync {

Consumer::Consumer(ConsumerOptions options, Engine* engine, Ledger* ledger, OffsetTracker* offsets,
                   prometheus::Registry& registry)
    : options_(std::move(options)), engine_(engine), ledger_(ledger), offsets_(offsets) {
  lag_ = &prometheus::BuildGauge()
              .Name("dossiersync_sync_consumer_lag")
              .Help("Messages behind the partition's high watermark")
              .Register(registry);
  stream_lost_ = &prometheus::BuildCounter()
                      .Name("dossiersync_sync_stream_lost_total")
                      .Help(
                          "Times a partition's recorded position was no longer on the log (the "
                          "event stream lost below the sync; a reconciliation was requested)")
                      .Register(registry);
  malformed_ = &prometheus::BuildCounter()
                    .Name("dossiersync_sync_malformed_messages_total")
                    .Help("Kafka messages that did not decode (skipped)")
                    .Register(registry)
                    .Add({});
}

Consumer::~Consumer() { Stop(); }

absl::Status Consumer::Start() {
  GroupOptions o;
  o.brokers = options_.brokers;
  o.group_id = options_.group_id;
  o.topics = {kTopicDossierChanges, kTopicSyncRequests};
  o.assignment_strategy = options_.assignment_strategy;
  o.store_on_poll = false;  // offsets are committed as the engine finishes them (OffsetTracker)
  o.report_offset_resets = true;  // a position fallen off the log is detected, not skipped
  o.config = {
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"},
      // Bounded prefetch: memory stays flat while the engine (or DVCQG) is slow.
      {"queued.min.messages", "1000"},
      {"queued.max.messages.kbytes", "16384"},
      // Low latency: the mock broker (and idle real ones) answer a fetch only after this wait.
      {"fetch.wait.max.ms", "20"},
  };
  for (const auto& [k, v] : options_.config) o.config[k] = v;
  DS_ASSIGN_OR_RETURN(kafka_, KafkaConsumer::Create(std::move(o), this));
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Consumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  kafka_.reset();
}

void Consumer::OnAssigned(const std::set<TopicPartition>&) {
  assigned_count_ = kafka_->assigned().size();
  lag_due_ = true;  // the lag of new partitions is known from the first moment
}

void Consumer::OnRevoked(const std::set<TopicPartition>& tps, bool lost) {
  // Finish (or drop) the work of these partitions, then commit what is done, then let go.
  engine_->Release(tps);
  if (!lost) Commit(/*sync=*/true);
  for (const auto& tp : tps) {
    offsets_->Remove(tp);
    read_times_.erase(tp);
    // Its lag is the new owner's to report: a frozen figure here would mislead the alert.
    lag_->Remove(&lag_->Add({{"topic", tp.first}, {"partition", absl::StrCat(tp.second)}}));
  }
  assigned_count_ = kafka_->assigned().size() - tps.size();
}

void Consumer::OnOffsetReset(const TopicPartition& tp, const std::string& detail) {
  auto last = ledger_->LastPosition(tp);
  if (last.ok() && !last->has_value()) {
    LogInfo("no position recorded for the partition: reading it from the beginning",
            {{"topic", tp.first}, {"partition", tp.second}});
    return;
  }
  // Recorded before (or unknown: the ledger did not answer, assume the worst): what lay between
  // that position and the log's new beginning may never reach us.
  const absl::Time since =
      last.ok() ? absl::FromUnixMicros((*last)->message_time_us) : absl::Now() - absl::Hours(24);
  stream_lost_->Add({{"topic", tp.first}, {"partition", absl::StrCat(tp.second)}}).Increment();
  LogError(
      "consumer position fell off the log: changes may have been lost below us; asking for "
      "a reconciliation of the window",
      {{"topic", tp.first},
       {"partition", tp.second},
       {"recorded_next_offset", last.ok() ? (*last)->next_offset : -1},
       {"changed_since", absl::FormatTime(since)},
       {"detail", detail}});
  if (options_.request_reconciliation) {
    options_.request_reconciliation(
        since, absl::StrCat("sync position of ", tp.first, "/", tp.second, " fell off the log"));
  }
}

void Consumer::Handle(const InMessage& m) {
  const TopicPartition tp{m.topic, m.partition};
  offsets_->Add(tp, m.offset);
  read_times_[tp][m.offset] = m.timestamp_ms;
  last_read_time_[tp] = m.timestamp_ms;
  auto tv = m.headers.find("traceparent");
  const std::string traceparent = tv != m.headers.end() ? tv->second : "";
  ScopedTrace trace(traceparent);
  if (tp.first != kTopicDossierChanges) return HandleSyncRequest(m, tp, traceparent);
  Work w;
  if (!w.change.ParseFromString(m.value) || w.change.dossier().code().empty()) {
    return Skip(m, tp, "not a DossierChange");
  }
  w.tp = tp;
  w.offset = m.offset;
  w.traceparent = traceparent;
  engine_->Enqueue(std::move(w));
}

void Consumer::Skip(const InMessage& m, const TopicPartition& tp, const char* why) {
  malformed_->Increment();
  LogError("skipping a message",
           {{"topic", tp.first}, {"partition", tp.second}, {"offset", m.offset}, {"reason", why}});
  offsets_->Done(tp, m.offset);
}

void Consumer::HandleSyncRequest(const InMessage& m, const TopicPartition& tp,
                                 const std::string& traceparent) {
  dossiersync::v1::SyncRequest req;
  if (!req.ParseFromString(m.value) || req.code().empty()) return Skip(m, tp, "not a SyncRequest");
  Work w;
  if (req.has_truth() && req.truth().code() == req.code()) {
    // The provincial truth comes with the request: recorded as an arrival (the ledger keeps the
    // newer snapshot and adds only steps it lacks), so what the stream lost is pushed too.
    dossiersync::v1::DossierChange& c = w.change;
    *c.mutable_dossier() = req.truth();
    c.mutable_dossier()->clear_steps();
    *c.mutable_new_steps() = req.truth().steps();
    c.set_revision(req.truth().revision());
    c.set_change_id(m.headers.count("event-id") ? m.headers.at("event-id") : "");
    *c.mutable_accepted_at() =
        req.truth().has_changed_at() ? req.truth().changed_at() : req.requested_at();
    c.set_change_seq(req.truth().change_seq());
  } else {
    auto latest = ledger_->Latest(req.code());
    if (!latest.ok() || !latest->has_value()) {
      LogWarn("sync request for a dossier never seen; nothing to push", {{"code", req.code()}});
      offsets_->Done(tp, m.offset);
      return;
    }
    w.change = std::move(**latest);
  }
  // Safe to ignore: without the recheck a full resync still sends the snapshot; the steps are
  // verified on the next uncertain push or reconciliation.
  if (req.full()) (void)ledger_->RecheckSteps(req.code());
  w.tp = tp;
  w.offset = m.offset;
  w.force = true;
  w.traceparent = traceparent;
  engine_->Enqueue(std::move(w));
}

void Consumer::Commit(bool sync) {
  auto commits = offsets_->TakeCommittable();
  if (commits.empty()) return;
  if (absl::Status st = kafka_->Commit(commits, sync); !st.ok()) {
    LogWarn("offset commit failed; the next commit covers it",
            {{"error", std::string(st.message())}});
    return;
  }
  // Our own record of each position, with the time of the message at it: the start of the window
  // to reconcile should the log lose it.
  for (const auto& [tp, next] : commits) {
    auto& times = read_times_[tp];
    times.erase(times.begin(), times.lower_bound(next));
    const int64_t ms = !times.empty() && times.begin()->first == next ? times.begin()->second
                                                                      : last_read_time_[tp];
    // Not fatal: the next commit records it again; until then an older record only widens the
    // window a reconciliation would check.
    if (absl::Status st = ledger_->RecordPosition(tp, {next, ms * 1000}); !st.ok()) {
      LogWarn("position not recorded", {{"error", std::string(st.message())}});
    }
  }
}

void Consumer::UpdatePause() {
  const bool want = engine_->ShouldPause();
  if (want == paused_) return;
  kafka_->SetPaused(want);
  paused_ = want;
  if (kafka_->assigned().empty()) return;
  if (want) {
    LogWarn("consumption paused", {{"breaker_open", engine_->breaker_open()},
                                   {"operator", engine_->operator_paused()},
                                   {"pending", static_cast<int64_t>(engine_->pending())}});
  } else {
    LogInfo("consumption resumed");
  }
}

void Consumer::UpdateLag() {
  for (const KafkaConsumer::Lag& l : kafka_->Lags()) {
    lag_->Add({{"topic", l.tp.first}, {"partition", absl::StrCat(l.tp.second)}})
        .Set(static_cast<double>(l.lag));
  }
}

void Consumer::Run() {
  absl::Time last_commit = absl::Now(), last_lag = absl::InfinitePast();
  while (!stop_) {
    auto m = kafka_->Poll(50);
    if (!m.ok()) {
      LogWarn("consumer error", {{"error", std::string(m.status().message())}});
    } else if (m->has_value()) {
      Handle(**m);
      UpdatePause();  // stop at once when the engine has enough
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
  kafka_->Close();  // revokes (engine releases, commits) and leaves the group
}

}  // namespace dossiersync::sync
