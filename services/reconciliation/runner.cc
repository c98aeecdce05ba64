#include "services/reconciliation/runner.h"

#include <deque>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "services/reconciliation/drift.h"
#include "services/reconciliation/sampling.h"

namespace dossiersync::reconciliation {

using dossiersync::v1::Dossier;
using dossiersync::v1::DriftItem;
using dossiersync::v1::ReconciliationRun;
using dossiersync::v1::StartRunRequest;
using google::protobuf::util::TimeUtil;

namespace {
constexpr char kLease[] = "reconciliation-run";
}  // namespace

// The provincial dossiers between the feed and the lookup workers. Push blocks while full; Pop
// blocks while empty and returns nullopt once the feed is done and drained, or at once after Abort.
class Runner::Queue {
 public:
  explicit Queue(size_t capacity) : capacity_(capacity) {}
  bool Push(Item item) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](Queue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
          return q->aborted_ || q->items_.size() < q->capacity_;
        },
        this));
    if (aborted_) return false;
    items_.push_back(std::move(item));
    return true;
  }
  std::optional<Item> Pop() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](Queue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
          return q->aborted_ || q->done_ || !q->items_.empty();
        },
        this));
    if (aborted_ || items_.empty()) return std::nullopt;
    Item item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  void Done() {
    absl::MutexLock l(&mu_);
    done_ = true;
  }
  void Abort() {
    absl::MutexLock l(&mu_);
    aborted_ = true;
  }

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<Item> items_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
};

// One worker's checks, written in groups: one transaction per dossier cost more than the lookup
// itself at a million dossiers. A group is written at 256 checks, a second after its first, and
// when the worker ends (before the run concludes), so a run's evidence is complete when it ends.
class Runner::CheckBuffer {
 public:
  explicit CheckBuffer(RunStore* store) : store_(store) {}
  ~CheckBuffer() { Flush(); }
  CheckBuffer(const CheckBuffer&) = delete;
  CheckBuffer& operator=(const CheckBuffer&) = delete;

  void Add(DossierCheck c) {
    if (checks_.empty()) first_ = absl::Now();
    checks_.push_back(std::move(c));
    if (checks_.size() >= 256 || absl::Now() - first_ >= absl::Seconds(1)) Flush();
  }
  void Flush() {
    if (checks_.empty()) return;
    if (auto st = store_->RecordChecks(checks_); !st.ok()) {
      LogWarn("checks not recorded", {{"checks", static_cast<int64_t>(checks_.size())},
                                      {"first_code", checks_.front().code},
                                      {"error", std::string(st.message())}});
    }
    checks_.clear();
  }

 private:
  RunStore* store_;
  std::vector<DossierCheck> checks_;
  absl::Time first_;
};

// The run's counts, shared by the workers.
struct Runner::Tally {
  absl::Mutex mu;
  int64_t checked ABSL_GUARDED_BY(mu) = 0;
  int64_t drifted ABSL_GUARDED_BY(mu) = 0;
  int64_t repairs ABSL_GUARDED_BY(mu) = 0;
  int64_t escalated ABSL_GUARDED_BY(mu) = 0;
  int64_t failed ABSL_GUARDED_BY(mu) = 0;
  int64_t in_flight ABSL_GUARDED_BY(mu) = 0;
  int64_t verified ABSL_GUARDED_BY(mu) = 0;
  std::map<std::string, int64_t> by_kind ABSL_GUARDED_BY(mu);
  std::map<std::string, int64_t> checked_by_agency ABSL_GUARDED_BY(mu);
  std::map<std::string, int64_t> drifted_by_agency ABSL_GUARDED_BY(mu);
  bool sampled ABSL_GUARDED_BY(mu) = false;  // population known once the sample is drawn
  std::map<std::string, int64_t> population ABSL_GUARDED_BY(mu);

  void Into(ReconciliationRun* run) {
    absl::MutexLock l(&mu);
    run->set_dossiers_checked(checked);
    run->set_in_flight(in_flight);
    run->set_verified_unchanged(verified);
    run->mutable_drift_by_kind()->clear();
    for (const auto& [k, v] : by_kind) (*run->mutable_drift_by_kind())[k] = v;
    run->mutable_checked_by_agency()->clear();
    for (const auto& [k, v] : checked_by_agency) (*run->mutable_checked_by_agency())[k] = v;
    run->mutable_drifted_by_agency()->clear();
    for (const auto& [k, v] : drifted_by_agency) (*run->mutable_drifted_by_agency())[k] = v;
    // Over the dossiers checked; none checked is consistent only when none failed either.
    run->set_consistency_ratio(checked > 0  ? static_cast<double>(checked - drifted) / checked
                               : failed > 0 ? 0.0
                                            : 1.0);
    run->set_not_checked_share(checked + failed > 0 ? static_cast<double>(failed) /
                                                          static_cast<double>(checked + failed)
                                                    : 0.0);
    run->set_consistency_low(run->consistency_ratio());
    run->set_consistency_high(run->consistency_ratio());
    if (sampled) {
      int64_t total = 0;
      run->mutable_population_by_agency()->clear();
      for (const auto& [k, v] : population) {
        (*run->mutable_population_by_agency())[k] = v;
        total += v;
      }
      run->set_population(total);
      if (checked > 0) {
        const ConsistencyEstimate e =
            EstimateConsistency(population, checked_by_agency, drifted_by_agency);
        run->set_consistency_ratio(e.ratio);
        run->set_consistency_low(e.low);
        run->set_consistency_high(e.high);
      }
    }
    run->set_repairs_requested(repairs);
    run->set_escalated(escalated);
    run->set_not_checked(failed);
  }
};

Runner::Runner(RunnerOptions options, dvcqg::Client* dvcqg,
               dossiersync::v1::IntakeService::Stub* intake, ClientOptions intake_client,
               KafkaProducer* producer, RunStore* store, prometheus::Registry* registry)
    : options_(std::move(options)),
      dvcqg_(dvcqg),
      intake_(intake),
      intake_client_(std::move(intake_client)),
      producer_(producer),
      store_(store),
      lookups_(options_.lookups_per_second, std::max(1.0, options_.lookups_per_second / 10)),
      repairs_(options_.repairs_per_second, std::max(1.0, options_.repairs_per_second / 10)) {
  prometheus::Registry& r = *registry;
  drift_ = &prometheus::BuildCounter()
                .Name("dossiersync_reconciliation_drift_total")
                .Help("Drift found, by kind")
                .Register(r);
  runs_ = &prometheus::BuildCounter()
               .Name("dossiersync_reconciliation_runs_total")
               .Help("Reconciliation runs ended, by state")
               .Register(r);
  checked_ = &prometheus::BuildCounter()
                  .Name("dossiersync_reconciliation_dossiers_checked_total")
                  .Help("Dossiers compared with DVCQG")
                  .Register(r)
                  .Add({});
  lookup_failures_ = &prometheus::BuildCounter()
                          .Name("dossiersync_reconciliation_lookup_failures_total")
                          .Help("Dossiers not checked: TraCuuHoSo failed after retries")
                          .Register(r)
                          .Add({});
  escalated_ = &prometheus::BuildCounter()
                    .Name("dossiersync_reconciliation_escalated_total")
                    .Help("Dossiers whose drift survived a repair")
                    .Register(r)
                    .Add({});
  repairs_requested_ = &prometheus::BuildCounter()
                            .Name("dossiersync_reconciliation_repairs_requested_total")
                            .Help("SyncRequests published to repair drift")
                            .Register(r)
                            .Add({});
  consistency_ = &prometheus::BuildGauge()
                      .Name("dossiersync_reconciliation_consistency_ratio")
                      .Help("Share of dossiers checked by the last finished run without drift")
                      .Register(r)
                      .Add({});
  not_checked_share_ = &prometheus::BuildGauge()
                            .Name("dossiersync_reconciliation_not_checked_share")
                            .Help(
                                "Share of the last ended run's dossiers that could not be checked "
                                "(TraCuuHoSo failed after retries)")
                            .Register(r)
                            .Add({});
  running_gauge_ = &prometheus::BuildGauge()
                        .Name("dossiersync_reconciliation_run_in_progress")
                        .Help("1 while this replica executes a run")
                        .Register(r)
                        .Add({});
  last_success_ = &prometheus::BuildGauge()
                       .Name("dossiersync_reconciliation_last_success_timestamp_seconds")
                       .Help(
                           "When the last run finished (Unix seconds); before any run finished "
                           "on this database: when this replica started")
                       .Register(r)
                       .Add({});
  // From the stored runs, so that a restart does not reset how overdue the next run is.
  absl::Time last = absl::Now();
  if (auto run = store_->LatestFinished(); run.ok() && run->has_value()) {
    const auto& f = (*run)->finished_at();
    last = absl::FromUnixSeconds(f.seconds()) + absl::Nanoseconds(f.nanos());
  }
  last_success_->Set(static_cast<double>(absl::ToUnixMicros(last)) / 1e6);
  duration_ =
      &prometheus::BuildHistogram()
           .Name("dossiersync_reconciliation_run_duration_seconds")
           .Help("Duration of finished runs")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 5, 15, 60, 300, 900, 3600, 10800});
}

Runner::~Runner() {
  Cancel();
  Join();
}

void Runner::Join() {
  std::vector<std::thread> ts;
  {
    absl::MutexLock l(&mu_);
    ts.swap(threads_);
  }
  for (auto& t : ts) t.join();
}

absl::Status Runner::Recover() {
  if (auto st = store_->ReleaseLease(kLease, options_.holder); !st.ok()) return st;
  auto n = store_->MarkInterrupted(options_.holder);
  if (!n.ok()) return n.status();
  if (*n > 0) LogWarn("runs interrupted by a restart marked INTERRUPTED", {{"runs", *n}});
  return absl::OkStatus();
}

absl::StatusOr<std::string> Runner::Start(const StartRunRequest& req, const std::string& trigger,
                                          const std::string& traceparent) {
  if (req.sample_size() < 0 || req.sample_size() > kMaxSample) {
    return FieldError("sample_size", "must be 0-100000 (0: every dossier in scope)");
  }
  if (req.sample_size() > 0 && !req.codes().empty()) {
    return FieldError("sample_size", "samples a scope; explicit codes are all checked");
  }
  const std::string trace = ChildTraceparent(traceparent);
  ScopedTrace scoped(trace);
  auto in_progress = [] {
    return ReasonError(absl::StatusCode::kFailedPrecondition, "RUN_IN_PROGRESS",
                       "another reconciliation run is in progress");
  };
  {
    absl::MutexLock l(&mu_);
    if (running_) return in_progress();
    running_ = true;  // renewing our own lease must not admit a second run here
  }
  auto release_local = [this] {
    absl::MutexLock l(&mu_);
    running_ = false;
  };
  auto got = store_->AcquireLease(kLease, options_.holder, options_.lease_ttl);
  if (!got.ok() || !*got) {
    release_local();
    if (!got.ok()) return got.status();
    return in_progress();
  }
  // Holding the lease, no other run is alive: whatever is still RUNNING died with its replica.
  if (auto n = store_->MarkInterrupted(""); n.ok() && *n > 0) {
    LogWarn("runs of a replica that lost its lease marked INTERRUPTED", {{"runs", *n}});
  }
  ReconciliationRun run;
  run.set_run_id(NewEventId());
  run.set_sample_size(req.sample_size());
  run.set_state("RUNNING");
  run.set_trigger(trigger);
  run.set_holder(options_.holder);
  if (req.has_changed_since()) *run.mutable_changed_since() = req.changed_since();
  *run.mutable_started_at() = NowTimestamp();
  if (auto st = store_->SaveRun(run); !st.ok()) {
    // Safe to ignore: an unreleased lease runs out by itself, and this replica takes it back.
    (void)store_->ReleaseLease(kLease, options_.holder);
    release_local();
    return st;
  }
  cancel_ = false;
  lease_lost_ = false;
  absl::MutexLock l(&mu_);
  threads_.emplace_back([this, run, req, trace] { Execute(run, req, trace); });
  return run.run_id();
}

absl::StatusOr<ReconciliationRun> Runner::RunNow(const StartRunRequest& req,
                                                 const std::string& trigger) {
  auto id = Start(req, trigger);
  if (!id.ok()) return id.status();
  Join();
  auto run = store_->GetRun(*id);
  if (!run.ok()) return run.status();
  return **run;
}

void Runner::Publish(const std::string& topic, const std::string& key,
                     const google::protobuf::Message& m) {
  OutMessage out{topic,
                 key,
                 m.SerializeAsString(),
                 m.GetDescriptor()->full_name(),
                 NewEventId(),
                 ChildTraceparent(CurrentTraceparent()),
                 0};
  if (auto st = producer_->Produce(out); !st.ok()) {
    LogWarn("reconciliation publish failed",
            {{"topic", topic}, {"error", std::string(st.message())}});
  }
}

absl::Status Runner::Feed(const StartRunRequest& req, bool summaries, Queue& q, Tally& tally) {
  if (!req.codes().empty()) return FeedCodes({req.codes().begin(), req.codes().end()}, q);
  if (req.sample_size() > 0) {
    StratifiedSample sample(req.sample_size(),
                            req.sample_seed() != 0 ? req.sample_seed() : std::random_device{}());
    auto st = ForEachInScope(req, /*include_steps=*/false, [&](Dossier& d) {
      sample.Offer(d.agency_code(), d.code());
      return !Stopping();
    });
    if (!st.ok()) return st;
    std::vector<std::string> codes = sample.Draw();
    {
      absl::MutexLock l(&tally.mu);
      tally.sampled = true;
      tally.population = sample.population();
    }
    LogInfo("reconciliation sample drawn",
            {{"population", absl::StrCat(sample.population().size(), " agencies")},
             {"sample", codes.size()}});
    return FeedCodes(codes, q);
  }
  return ForEachInScope(req, /*include_steps=*/!summaries, [&](Dossier& d) {
    return q.Push(Item{d.code(), std::move(d), summaries});
  });
}

absl::StatusOr<std::optional<Dossier>> Runner::Provincial(const std::string& code) {
  auto ctx = MakeContext(intake_client_, absl::Seconds(10));
  dossiersync::v1::GetDossierRequest g;
  g.set_code(code);
  Dossier d;
  grpc::Status st = intake_->GetDossier(ctx.get(), g, &d);
  if (st.ok()) return std::optional<Dossier>(std::move(d));
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<Dossier>();
  return absl::UnavailableError(absl::StrCat("intake GetDossier: ", st.error_message()));
}

absl::Status Runner::FeedCodes(const std::vector<std::string>& codes, Queue& q) {
  for (const auto& code : codes) {
    auto d = Provincial(code);
    if (!d.ok()) return d.status();
    if (!q.Push(Item{code, std::move(*d)})) return absl::CancelledError("run stopped");
  }
  return absl::OkStatus();
}

absl::Status Runner::ForEachInScope(const StartRunRequest& req, bool include_steps,
                                    const std::function<bool(Dossier&)>& each) {
  std::vector<std::string> agencies(req.agency_codes().begin(), req.agency_codes().end());
  if (agencies.empty()) agencies.push_back("");
  constexpr int kMaxResumes = 5;
  for (const auto& agency : agencies) {
    int64_t last_seq = 0;
    for (int failures = 0;;) {
      auto ctx = MakeContext(intake_client_, absl::Minutes(30));
      dossiersync::v1::ListDossiersRequest lr;
      lr.set_agency_code(agency);
      if (req.has_changed_since()) *lr.mutable_changed_since() = req.changed_since();
      if (req.has_changed_until()) *lr.mutable_changed_until() = req.changed_until();
      if (last_seq > 0) lr.set_page_token(absl::StrCat(last_seq));
      lr.set_include_steps(include_steps);
      auto reader = intake_->ListDossiers(ctx.get(), lr);
      Dossier d;
      bool more = true;
      while (more && reader->Read(&d)) {
        last_seq = d.change_seq();
        more = each(d);
      }
      if (!more) {
        ctx->TryCancel();
        (void)reader->Finish();  // the run is stopping
        return absl::CancelledError("run stopped");
      }
      grpc::Status st = reader->Finish();
      if (st.ok()) break;
      if (++failures > kMaxResumes || Stopping()) {
        return absl::UnavailableError(absl::StrCat("intake ListDossiers: ", st.error_message()));
      }
      LogWarn("ListDossiers stream broke; resuming",
              {{"after_change_seq", last_seq}, {"error", st.error_message()}});
      absl::SleepFor(absl::Milliseconds(200) * (1 << failures));
    }
  }
  return absl::OkStatus();
}

bool Runner::InFlight(const dossiersync::v1::Dossier& d, const InFlightRule& rule) {
  if (!d.has_changed_at()) return false;
  const absl::Time changed =
      absl::FromUnixSeconds(d.changed_at().seconds()) + absl::Nanoseconds(d.changed_at().nanos());
  if (changed < rule.not_before) return false;
  // Either the sync is behind on the dossier's partition, or intake accepted it after the sync's
  // newest push (less the slack: a change not yet relayed to Kafka leaves no partition behind).
  bool behind = changed > rule.after;
  if (!behind && rule.behind) {
    const int32_t n = static_cast<int32_t>(rule.behind->size());
    behind = (*rule.behind)[static_cast<size_t>(SyncProgress::PartitionOf(d.code(), n))];
  }
  if (!behind) return false;
  auto last = store_->LastSyncRevision(d.code());
  if (!last.ok()) return false;  // unknown: look it up
  return !last->has_value() || **last < d.revision();
}

dvcqg::LookupResult Runner::LookupWithRetries(const std::string& code) {
  dvcqg::LookupResult r;
  absl::Duration backoff = absl::Milliseconds(100);
  for (int attempt = 0; attempt < 4 && !Stopping(); ++attempt) {
    if (!lookups_.Acquire([this] { return Stopping(); })) break;
    r = dvcqg_->Lookup(code);
    if (!dvcqg::IsRetryable(r.call.outcome)) return r;
    absl::SleepFor(std::max(backoff, r.call.retry_after));
    backoff *= 2;
  }
  return r;
}

std::optional<std::vector<dossiersync::v1::Dossier>> Runner::History(const std::string& code) {
  auto ctx = MakeContext(intake_client_, absl::Seconds(10));
  dossiersync::v1::GetDossierRequest g;
  g.set_code(code);
  dossiersync::v1::DossierHistory h;
  grpc::Status st = intake_->GetDossierHistory(ctx.get(), g, &h);
  if (!st.ok()) {
    // Classification falls back to the stage table; the run goes on.
    LogWarn("intake GetDossierHistory failed", {{"code", code}, {"error", st.error_message()}});
    return std::nullopt;
  }
  return std::vector<dossiersync::v1::Dossier>(h.revisions().begin(), h.revisions().end());
}

void Runner::Check(Item item, const StartRunRequest& req, const std::string& run_id,
                   const std::map<std::string, std::string>& pending, Tally& tally,
                   CheckBuffer& checks, const InFlightRule* in_flight, bool skip_verified) {
  const std::string& code = item.code;
  if (in_flight != nullptr && item.provincial && InFlight(*item.provincial, *in_flight)) {
    absl::MutexLock lock(&tally.mu);
    ++tally.in_flight;
    return;
  }
  // A repair not yet seen to hold is always looked up; so is a dossier whose evidence cannot be
  // read.
  if (skip_verified && item.provincial && !pending.contains(code)) {
    auto verified = store_->VerifiedUnchanged(code, item.provincial->revision());
    if (verified.ok() && *verified) {
      absl::MutexLock lock(&tally.mu);
      ++tally.verified;
      return;
    }
  }
  if (item.summary && item.provincial) {
    // Listed without steps; compared whole (its steps, its latest revision).
    auto whole = Provincial(code);
    if (!whole.ok()) {
      if (Stopping()) return;
      LogWarn("intake GetDossier failed; dossier not checked",
              {{"code", code}, {"error", std::string(whole.status().message())}});
      absl::MutexLock lock(&tally.mu);
      ++tally.failed;
      return;
    }
    item.provincial = std::move(*whole);
  }
  dvcqg::LookupResult l = LookupWithRetries(code);
  if (l.call.outcome != dvcqg::Outcome::kAccepted) {
    if (Stopping()) return;
    lookup_failures_->Increment();
    absl::MutexLock lock(&tally.mu);
    ++tally.failed;
    return;
  }
  checked_->Increment();
  const std::string agency = item.provincial ? item.provincial->agency_code()
                             : l.dossier     ? l.dossier->agency_code()
                                             : std::string();
  // When the statuses differ, intake's revisions tell whether DVCQG holds an older one.
  std::optional<std::vector<dossiersync::v1::Dossier>> history;
  if (item.provincial && l.dossier &&
      l.dossier->status() != dvcqg::MapStatus(options_.status_map, item.provincial->status())) {
    history = History(code);
  }
  auto findings =
      Classify(item.provincial, l.dossier, options_.status_map, history ? &*history : nullptr);
  if (item.provincial) {
    // The dossier's latest evidence, which KPIs and the score read (not the last run's ratio).
    checks.Add({code, agency, item.provincial->revision(), absl::Now(), run_id, findings.empty(),
                l.dossier});
  }
  auto repair = pending.find(code);
  const bool again = repair != pending.end() && repair->second != run_id;
  {
    absl::MutexLock lock(&tally.mu);
    ++tally.checked;
    ++tally.checked_by_agency[agency];
    if (!findings.empty()) {
      ++tally.drifted;
      ++tally.drifted_by_agency[agency];
      if (again) ++tally.escalated;
      for (const auto& f : findings) ++tally.by_kind[dossiersync::v1::DriftKind_Name(f.kind)];
    }
  }
  if (findings.empty()) {
    if (repair != pending.end()) (void)store_->SetRepair(code, "");  // the repair held
    return;
  }
  if (again) escalated_->Increment();
  auto evidence = store_->LastSync(code);
  bool full = false, repairable = false;
  for (const auto& f : findings) {
    const bool can_repair = f.kind != dossiersync::v1::DRIFT_KIND_UNKNOWN_PROVINCIALLY;
    DriftItem d;
    d.set_run_id(run_id);
    d.set_code(code);
    d.set_kind(f.kind);
    d.set_detail(evidence.ok() ? absl::StrCat(f.detail, "; ", *evidence) : f.detail);
    d.set_repair_requested(req.repair() && can_repair);
    d.set_escalated(again);
    if (auto st = store_->AddDrift(d); !st.ok()) {
      LogWarn("drift not recorded", {{"code", code}, {"error", std::string(st.message())}});
    }
    Publish(kTopicDrift, code, d);
    drift_->Add({{"kind", dossiersync::v1::DriftKind_Name(f.kind)}}).Increment();
    full |= f.full_resync;
    repairable |= can_repair;
  }
  if (!req.repair() || !repairable) return;
  if (!repairs_.Acquire([this] { return Stopping(); })) return;
  dossiersync::v1::SyncRequest sr;
  sr.set_code(code);
  sr.set_reason(absl::StrCat("reconciliation: ", findings[0].detail));
  sr.set_requested_by(absl::StrCat("reconciliation run ", run_id));
  sr.set_full(full);
  *sr.mutable_requested_at() = NowTimestamp();
  if (item.provincial) *sr.mutable_truth() = *item.provincial;
  Publish(kTopicSyncRequests, code, sr);
  // Safe to ignore: an unrecorded repair is only not re-checked by the next run, which finds the
  // drift again if the repair did not land.
  (void)store_->SetRepair(code, run_id);
  repairs_requested_->Increment();
  absl::MutexLock lock(&tally.mu);
  ++tally.repairs;
}

void Runner::Execute(ReconciliationRun run, const StartRunRequest& req, const std::string& trace) {
  ScopedTrace scoped(trace);
  running_gauge_->Set(1);
  const absl::Time started = absl::Now();
  const std::string run_id = run.run_id();
  Tally tally;
  Queue q(std::max(1, options_.queue_capacity));
  absl::Status feed_status;
  auto pending = store_->PendingRepairs();
  std::optional<InFlightRule> in_flight;
  if ((run.trigger() == "incremental" || run.trigger() == "full-sweep") &&
      options_.in_flight_limit > absl::ZeroDuration()) {
    auto frontier = store_->SyncFrontier();
    absl::StatusOr<std::vector<bool>> behind = absl::UnavailableError("no sync progress");
    if (options_.sync_progress != nullptr) {
      behind = options_.sync_progress->Behind();
      if (!behind.ok()) {
        LogWarn(
            "the sync's progress per partition is unknown; its frontier decides what is in flight",
            {{"error", std::string(behind.status().message())}});
      }
    }
    if (frontier.ok()) {
      in_flight =
          InFlightRule{*frontier ? absl::FromUnixMicros(**frontier) - options_.in_flight_slack
                                 : absl::InfinitePast(),
                       started - options_.in_flight_limit, std::nullopt};
      if (behind.ok()) in_flight->behind = std::move(*behind);
    } else {  // every dossier is looked up, as without the rule
      LogWarn("the sync's frontier is unknown; dossiers in flight are checked too",
              {{"error", std::string(frontier.status().message())}});
    }
  }
  const bool skip_verified = options_.skip_verified && run.trigger() == "incremental";
  if (!pending.ok()) {
    feed_status = pending.status();
  } else {
    std::thread feeder([&] {
      ScopedTrace t(trace);
      // An incremental run looks few of its dossiers up (skip_verified, in flight): it lists them
      // without steps, a query per dossier at intake, and reads whole only those it looks up.
      feed_status = Feed(req, /*summaries=*/skip_verified, q, tally);
      q.Done();
    });
    std::vector<std::thread> workers;
    for (int k = 0; k < std::max(1, options_.concurrency); ++k) {
      workers.emplace_back([&] {
        ScopedTrace t(trace);
        CheckBuffer checks(store_);
        while (auto item = q.Pop()) {
          Check(std::move(*item), req, run_id, *pending, tally, checks,
                in_flight ? &*in_flight : nullptr, skip_verified);
        }
      });
    }
    absl::Notification workers_done;
    std::thread heartbeat([&] { Heartbeat(run, tally, q, workers_done, trace); });
    for (auto& t : workers) t.join();
    workers_done.Notify();
    q.Abort();  // a feeder still pushing (workers stopped early) gives up
    feeder.join();
    heartbeat.join();
  }
  Conclude(run, tally, feed_status, started);
}

// Progress saved every second (GetRun shows it), the lease renewed every ttl/3, the queue stopped
// on cancel or a lost lease; until the workers are done.
void Runner::Heartbeat(const ReconciliationRun& run, Tally& tally, Queue& q,
                       absl::Notification& workers_done, const std::string& trace) {
  ScopedTrace t(trace);
  const std::string& run_id = run.run_id();
  absl::Time renewed = absl::Now();
  absl::Time saved = absl::Now();
  while (!workers_done.WaitForNotificationWithTimeout(absl::Milliseconds(250))) {
    if (Stopping()) q.Abort();
    if (absl::Now() - renewed >= options_.lease_ttl / 3) {
      renewed = absl::Now();
      auto held = store_->AcquireLease(kLease, options_.holder, options_.lease_ttl);
      if (held.ok() && !*held) {
        LogError("reconciliation lease taken by another replica; stopping the run",
                 {{"run_id", run_id}});
        lease_lost_ = true;
        q.Abort();
      }
    }
    if (absl::Now() - saved >= absl::Seconds(1)) {
      saved = absl::Now();
      ReconciliationRun progress = run;
      tally.Into(&progress);
      (void)store_->SaveRun(progress);  // progress only: the next second or the end saves again
    }
  }
}

// The run's end: its state, metrics, record, message and the lease released.
void Runner::Conclude(ReconciliationRun& run, Tally& tally, const absl::Status& feed_status,
                      absl::Time started) {
  const std::string run_id = run.run_id();
  tally.Into(&run);
  if (lease_lost_) {
    run.set_state("ABORTED: LEASE_LOST");
  } else if (cancel_) {
    run.set_state("CANCELLED");
  } else if (!feed_status.ok()) {
    run.set_state(absl::StrCat("FAILED: ", feed_status.message()));
  } else {
    // A run that could not check part of its scope is never called consistent.
    run.set_state(run.not_checked() > 0 ? absl::StrCat("INCOMPLETE: ", run.not_checked(), " of ",
                                                       run.not_checked() + run.dossiers_checked(),
                                                       " dossiers not checked (TraCuuHoSo failed)")
                                        : "FINISHED");
    consistency_->Set(run.consistency_ratio());
    not_checked_share_->Set(run.not_checked_share());
    duration_->Observe(absl::ToDoubleSeconds(absl::Now() - started));
    if (run.not_checked() == 0)
      last_success_->Set(static_cast<double>(absl::ToUnixMicros(absl::Now())) / 1e6);
  }
  int64_t failed;
  {
    absl::MutexLock l(&tally.mu);
    failed = tally.failed;
  }
  if (failed > 0) {
    LogWarn("reconciliation lookups failed; those dossiers were not checked",
            {{"run_id", run_id}, {"failed", failed}});
  }
  *run.mutable_finished_at() = NowTimestamp();
  // Safe to ignore: the run's record also goes to the runs topic below; a run left RUNNING is
  // marked INTERRUPTED by the next one.
  (void)store_->SaveRun(run);
  Publish(kTopicReconciliationRuns, run_id, run);
  // Safe to ignore: an unreleased lease runs out by itself.
  if (!lease_lost_) (void)store_->ReleaseLease(kLease, options_.holder);
  runs_->Add({{"state", run.state().substr(0, run.state().find(':'))}}).Increment();
  running_gauge_->Set(0);
  LogInfo("reconciliation run ended", {{"run_id", run_id},
                                       {"trigger", run.trigger()},
                                       {"state", run.state()},
                                       {"checked", run.dossiers_checked()},
                                       {"consistency", run.consistency_ratio()},
                                       {"repairs", run.repairs_requested()},
                                       {"escalated", run.escalated()}});
  absl::MutexLock l(&mu_);
  running_ = false;
}

}  // namespace dossiersync::reconciliation
