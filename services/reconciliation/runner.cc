#include "services/reconciliation/runner.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "services/reconciliation/drift.h"

namespace dossiersync::reconciliation {

using dossiersync::v1::Dossier;
using dossiersync::v1::DriftItem;
using dossiersync::v1::ReconciliationRun;
using dossiersync::v1::StartRunRequest;
using google::protobuf::util::TimeUtil;

namespace {
constexpr char kLease[] = "reconciliation-run";
}  // namespace

Runner::Runner(RunnerOptions options, dvcqg::Client* dvcqg,
               dossiersync::v1::IntakeService::Stub* intake, ClientOptions intake_client,
               KafkaProducer* producer, RunStore* store)
    : options_(std::move(options)),
      dvcqg_(dvcqg),
      intake_(intake),
      intake_client_(std::move(intake_client)),
      producer_(producer),
      store_(store) {}

Runner::~Runner() { Join(); }

void Runner::Join() {
  std::vector<std::thread> ts;
  {
    absl::MutexLock l(&mu_);
    ts.swap(threads_);
  }
  for (auto& t : ts) t.join();
}

absl::StatusOr<std::string> Runner::Start(const StartRunRequest& req) {
  auto got = store_->AcquireLease(kLease, options_.holder, options_.lease_ttl);
  if (!got.ok()) return got.status();
  if (!*got) {
    return ReasonError(absl::StatusCode::kFailedPrecondition, "RUN_IN_PROGRESS",
                       "another reconciliation run is in progress");
  }
  std::string id = NewEventId();
  ReconciliationRun run;
  run.set_run_id(id);
  run.set_state("RUNNING");
  *run.mutable_started_at() = TimeUtil::GetCurrentTime();
  if (auto st = store_->SaveRun(run); !st.ok()) return st;
  absl::MutexLock l(&mu_);
  threads_.emplace_back([this, id, req] { Execute(id, req); });
  return id;
}

absl::StatusOr<ReconciliationRun> Runner::RunNow(const StartRunRequest& req) {
  auto id = Start(req);
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
                 NewTraceparent(),
                 0};
  if (auto st = producer_->Produce(out); !st.ok()) {
    LogWarn("reconciliation publish failed",
            {{"topic", topic}, {"error", std::string(st.message())}});
  }
}

absl::StatusOr<std::vector<std::pair<std::string, std::optional<Dossier>>>> Runner::Provincial(
    const StartRunRequest& req) {
  std::vector<std::pair<std::string, std::optional<Dossier>>> out;
  if (!req.codes().empty()) {
    for (const auto& code : req.codes()) {
      auto ctx = MakeContext(intake_client_, absl::Seconds(10));
      dossiersync::v1::GetDossierRequest g;
      g.set_code(code);
      Dossier d;
      grpc::Status st = intake_->GetDossier(ctx.get(), g, &d);
      if (st.ok()) {
        out.push_back({code, std::move(d)});
      } else if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
        out.push_back({code, std::nullopt});
      } else {
        return absl::UnavailableError(absl::StrCat("intake GetDossier: ", st.error_message()));
      }
    }
    return out;
  }
  std::vector<std::string> agencies(req.agency_codes().begin(), req.agency_codes().end());
  if (agencies.empty()) agencies.push_back("");
  for (const auto& agency : agencies) {
    auto ctx = MakeContext(intake_client_, absl::Minutes(30));
    dossiersync::v1::ListDossiersRequest lr;
    lr.set_agency_code(agency);
    if (req.has_changed_since()) *lr.mutable_changed_since() = req.changed_since();
    if (req.has_changed_until()) *lr.mutable_changed_until() = req.changed_until();
    lr.set_include_steps(true);
    auto reader = intake_->ListDossiers(ctx.get(), lr);
    Dossier d;
    while (reader->Read(&d)) out.push_back({d.code(), d});
    grpc::Status st = reader->Finish();
    if (!st.ok())
      return absl::UnavailableError(absl::StrCat("intake ListDossiers: ", st.error_message()));
  }
  return out;
}

dvcqg::LookupResult Runner::LookupWithRetries(const std::string& code) {
  dvcqg::LookupResult r;
  absl::Duration backoff = absl::Milliseconds(100);
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (options_.lookups_per_second > 0) {
      absl::Time at;
      {
        absl::MutexLock l(&rate_mu_);
        next_lookup_ = std::max(next_lookup_, absl::Now());
        at = next_lookup_;
        next_lookup_ += absl::Seconds(1.0 / options_.lookups_per_second);
      }
      absl::SleepFor(at - absl::Now());
    }
    r = dvcqg_->Lookup(code);
    if (!dvcqg::IsRetryable(r.call.outcome)) return r;
    absl::SleepFor(std::max(backoff, r.call.retry_after));
    backoff *= 2;
  }
  return r;
}

ReconciliationRun Runner::Execute(const std::string& run_id, const StartRunRequest& req) {
  ReconciliationRun run;
  run.set_run_id(run_id);
  *run.mutable_started_at() = TimeUtil::GetCurrentTime();
  auto provincial = Provincial(req);
  auto repaired_before = store_->RepairedBefore(run_id);
  if (!provincial.ok() || !repaired_before.ok()) {
    run.set_state(absl::StrCat("FAILED: ", !provincial.ok() ? provincial.status().message()
                                                            : repaired_before.status().message()));
  } else {
    absl::Mutex mu;
    std::map<std::string, int64_t> counts;
    int64_t drifted = 0, repairs = 0, escalated = 0, errors = 0;
    std::atomic<size_t> next{0};
    auto work = [&] {
      while (true) {
        size_t i = next++;
        if (i >= provincial->size()) return;
        const auto& [code, prov] = (*provincial)[i];
        dvcqg::LookupResult l = LookupWithRetries(code);
        if (l.call.outcome != dvcqg::Outcome::kAccepted) {
          absl::MutexLock lock(&mu);
          ++errors;
          continue;
        }
        auto findings = Classify(prov, l.dossier, options_.status_map);
        if (findings.empty()) continue;
        bool full = false, repairable = false;
        bool again = repaired_before->count(code) > 0;
        for (const auto& f : findings) {
          DriftItem item;
          item.set_run_id(run_id);
          item.set_code(code);
          item.set_kind(f.kind);
          item.set_detail(f.detail);
          bool can_repair = f.kind != dossiersync::v1::DRIFT_KIND_UNKNOWN_PROVINCIALLY;
          item.set_repair_requested(req.repair() && can_repair);
          item.set_escalated(again);
          (void)store_->AddDrift(item);
          Publish(kTopicDrift, code, item);
          full |= f.full_resync;
          repairable |= can_repair;
          absl::MutexLock lock(&mu);
          ++counts[dossiersync::v1::DriftKind_Name(f.kind)];
        }
        if (req.repair() && repairable) {
          dossiersync::v1::SyncRequest sr;
          sr.set_code(code);
          sr.set_reason(absl::StrCat("reconciliation: ", findings[0].detail));
          sr.set_requested_by(absl::StrCat("reconciliation run ", run_id));
          sr.set_full(full);
          *sr.mutable_requested_at() = TimeUtil::GetCurrentTime();
          Publish(kTopicSyncRequests, code, sr);
        }
        absl::MutexLock lock(&mu);
        ++drifted;
        if (req.repair() && repairable) ++repairs;
        if (again) ++escalated;
      }
    };
    std::vector<std::thread> ws;
    for (int k = 0; k < std::max(1, options_.concurrency); ++k) ws.emplace_back(work);
    for (auto& t : ws) t.join();
    int64_t checked = static_cast<int64_t>(provincial->size()) - errors;
    run.set_dossiers_checked(checked);
    for (const auto& [k, v] : counts) (*run.mutable_drift_by_kind())[k] = v;
    run.set_consistency_ratio(checked > 0 ? static_cast<double>(checked - drifted) / checked : 1.0);
    run.set_repairs_requested(repairs);
    run.set_escalated(escalated);
    run.set_state("FINISHED");
    if (errors > 0) {
      LogWarn("reconciliation lookups failed; those dossiers were not checked",
              {{"run_id", run_id}, {"failed", errors}});
    }
  }
  *run.mutable_finished_at() = TimeUtil::GetCurrentTime();
  (void)store_->SaveRun(run);
  Publish(kTopicReconciliationRuns, run_id, run);
  (void)store_->ReleaseLease(kLease, options_.holder);
  LogInfo("reconciliation run finished", {{"run_id", run_id},
                                          {"state", run.state()},
                                          {"checked", run.dossiers_checked()},
                                          {"consistency", run.consistency_ratio()},
                                          {"repairs", run.repairs_requested()}});
  return run;
}

}  // namespace dossiersync::reconciliation
