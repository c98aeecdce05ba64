#include "services/reconciliation/service.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "services/reconciliation/national_view.h"
#include "services/reconciliation/score.h"

namespace dossiersync::reconciliation {

using google::protobuf::util::TimeUtil;

namespace {

class DriftStream : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  DriftStream(ServiceImpl* svc, grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw) {
    auto caller = svc->auth()->Authenticate(*ctx, Role::kOperator);
    dossiersync::v1::ListDriftRequest req;
    absl::Status st = caller.ok() ? ParseRaw(*raw, &req) : caller.status();
    if (!st.ok()) {
      Finish(ToGrpcStatus(st));
      return;
    }
    svc->pool()->Post([this, svc, run_id = req.run_id(), kind = static_cast<int>(req.kind())] {
      auto items = svc->store()->Drift(run_id, kind);
      if (!items.ok())
        return Finish(ToGrpcStatus(absl::UnavailableError(items.status().message())));
      items_ = std::move(*items);
      Next();
    });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (pos_ < items_.size()) {
      SerializeRaw(items_[pos_++], &out_);
      StartWrite(&out_);
    } else {
      Finish(grpc::Status::OK);
    }
  }
  std::vector<dossiersync::v1::DriftItem> items_;
  size_t pos_ = 0;
  grpc::ByteBuffer out_;
};

}  // namespace

grpc::ServerUnaryReactor* ServiceImpl::StartRun(grpc::CallbackServerContext* ctx,
                                                const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  auto call =
      Begin<dossiersync::v1::StartRunRequest, dossiersync::v1::StartRunResponse>(ctx, in, out);
  if (!call->started()) return call->reactor();
  pool_.Post([this, call] {
    auto id = runner_->Start(call->req(), "on-demand", call->traceparent());
    if (!id.ok()) return call->Finish(id.status());
    call->resp()->set_run_id(*id);
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

grpc::ServerUnaryReactor* ServiceImpl::GetRun(grpc::CallbackServerContext* ctx,
                                              const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  auto call =
      Begin<dossiersync::v1::GetRunRequest, dossiersync::v1::ReconciliationRun>(ctx, in, out);
  if (!call->started()) return call->reactor();
  if (call->req().run_id().empty()) {
    call->Finish(FieldError("run_id", "required"));
    return call->reactor();
  }
  pool_.Post([this, call] {
    const std::string& id = call->req().run_id();
    auto run = store_->GetRun(id);
    if (!run.ok()) return call->Finish(absl::UnavailableError(run.status().message()));
    if (!run->has_value()) {
      return call->Finish(
          ReasonError(absl::StatusCode::kNotFound, "RUN_NOT_FOUND", absl::StrCat("no run ", id)));
    }
    *call->resp() = std::move(**run);
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

grpc::ServerUnaryReactor* ServiceImpl::ListRuns(grpc::CallbackServerContext* ctx,
                                                const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  auto call =
      Begin<dossiersync::v1::ListRunsRequest, dossiersync::v1::ListRunsResponse>(ctx, in, out);
  if (!call->started()) return call->reactor();
  const int limit = call->req().limit();
  if (limit < 0 || limit > 500) {
    call->Finish(FieldError("limit", "0 (20) to 500"));
    return call->reactor();
  }
  pool_.Post([this, call, limit] {
    auto runs = store_->Runs(limit == 0 ? 20 : limit);
    if (!runs.ok()) return call->Finish(absl::UnavailableError(runs.status().message()));
    for (auto& r : *runs) *call->resp()->add_runs() = std::move(r);
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ServiceImpl::ListDrift(grpc::CallbackServerContext* ctx,
                                                                   const grpc::ByteBuffer* req) {
  return new DriftStream(this, ctx, req);
}

grpc::ServerUnaryReactor* ServiceImpl::GetKpis(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::GetKpisRequest, dossiersync::v1::Kpis>(ctx, in, out);
  if (!call->started()) return call->reactor();
  pool_.Post([this, call] { call->Finish(ComputeKpis(call->req(), call->resp())); });
  return call->reactor();
}

grpc::ServerUnaryReactor* ServiceImpl::GetScore(grpc::CallbackServerContext* ctx,
                                                const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::GetScoreRequest, dossiersync::v1::Score>(ctx, in, out);
  if (!call->started()) return call->reactor();
  pool_.Post([this, call] { call->Finish(ComputeScore(call->req(), call->resp())); });
  return call->reactor();
}

grpc::ServerUnaryReactor* ServiceImpl::GetDossierTimeline(grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* in,
                                                          grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::GetDossierTimelineRequest, dossiersync::v1::DossierTimeline>(
      ctx, in, out);
  if (!call->started()) return call->reactor();
  pool_.Post([this, call] {
    auto t = timeline_->Build(call->req());
    if (!t.ok()) return call->Finish(t.status());
    *call->resp() = std::move(*t);
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

absl::Status ServiceImpl::ForEachProvincial(
    const std::string& agency, const std::function<void(dossiersync::v1::Dossier&)>& each) {
  auto cctx = MakeContext(intake_client_, absl::Minutes(10));
  dossiersync::v1::ListDossiersRequest lr;
  lr.set_agency_code(agency);
  auto reader = intake_->ListDossiers(cctx.get(), lr);
  dossiersync::v1::Dossier d;
  while (reader->Read(&d)) each(d);
  grpc::Status st = reader->Finish();
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat("intake ListDossiers: ", st.error_message()));
  }
  return absl::OkStatus();
}

void ServiceImpl::RegisterScoreGauges(prometheus::Registry& registry) {
  auto& points = prometheus::BuildGauge()
                     .Name("dossiersync_reconciliation_score_points")
                     .Help(
                         "The national score forecast for the province in --score_period (default "
                         "this month), from the province's data (provincial) and from what DVCQG "
                         "holds (national)")
                     .Register(registry);
  score_points_ = &points;
  score_at_stake_family_ =
      &prometheus::BuildGauge()
           .Name("dossiersync_reconciliation_score_points_at_stake")
           .Help("Points of the --score_period score the sync gap costs the province")
           .Register(registry);
}

absl::Status ServiceImpl::RefreshScore(const std::string& period) {
  dossiersync::v1::GetScoreRequest req;
  req.set_period(period);
  req.set_max_codes(1);
  dossiersync::v1::Score score;
  if (absl::Status st = ComputeScore(req, &score); !st.ok()) return st;
  if (score_points_ != nullptr) {
    // The series appear with the first computed score: before it, no figure rather than 0 points.
    absl::MutexLock l(&score_mu_);
    if (score_provincial_ == nullptr) {
      score_provincial_ = &score_points_->Add({{"view", "provincial"}});
      score_national_ = &score_points_->Add({{"view", "national"}});
      score_at_stake_ = &score_at_stake_family_->Add({});
    }
    score_provincial_->Set(score.total().provincial().points());
    score_national_->Set(score.total().national().points());
    score_at_stake_->Set(score.total().points_at_stake());
  }
  return absl::OkStatus();
}

absl::Status ServiceImpl::ComputeScore(const dossiersync::v1::GetScoreRequest& req,
                                       dossiersync::v1::Score* resp) {
  auto period = ParsePeriod(req.period(), absl::Now());
  if (!period.ok()) return FieldError("period", period.status().message());
  if (req.max_codes() < 0 || req.max_codes() > 1000) {
    return FieldError("max_codes", "must be 0-1000 (0: 20)");
  }
  const int max_codes = req.max_codes() == 0 ? 20 : req.max_codes();
  const ScoreFormula& formula = ScoreFormula::Default();
  auto evidence = store_->Evidence(req.agency_code());
  if (!evidence.ok()) return absl::UnavailableError(evidence.status().message());
  // Only dossiers received in the period (provincially or nationally) are kept in memory.
  auto in_period = [&](const dossiersync::v1::Dossier* d) {
    if (d == nullptr || !d->has_received_at()) return false;
    absl::Time t = absl::FromUnixSeconds(d->received_at().seconds());
    return t >= period->from && t < period->until;
  };
  std::deque<dossiersync::v1::Dossier> kept;
  std::vector<ScoredDossier> all;
  std::map<std::string, std::vector<ScoredDossier>> by_agency;
  absl::Status st = ForEachProvincial(req.agency_code(), [&](dossiersync::v1::Dossier& d) {
    auto e = evidence->find(d.code());
    const DossierEvidence* ev = e == evidence->end() ? nullptr : &e->second;
    NationalView probe = NationalViewOf(d, ev);
    if (!in_period(&d) && !(probe.snapshot != &d && in_period(probe.snapshot))) return;
    const dossiersync::v1::Dossier& p = kept.emplace_back(std::move(d));
    NationalView v = NationalViewOf(p, ev);  // again: it may point at the moved snapshot
    ScoredDossier sd{&p, v.snapshot, v.known};
    all.push_back(sd);
    by_agency[p.agency_code()].push_back(sd);
  });
  if (!st.ok()) return st;
  resp->set_period(period->label);
  *resp->mutable_from() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(period->from));
  *resp->mutable_until() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(period->until));
  resp->set_formula_version(formula.version);
  resp->set_formula_source(formula.source);
  *resp->mutable_total() = reconciliation::ComputeScore(all, *period, formula, max_codes);
  if (req.agency_code().empty()) {
    for (const auto& [agency, list] : by_agency) {
      (*resp->mutable_by_agency())[agency] =
          reconciliation::ComputeScore(list, *period, formula, max_codes);
    }
  }
  return absl::OkStatus();
}

absl::Status ServiceImpl::ComputeKpis(const dossiersync::v1::GetKpisRequest& req,
                                      dossiersync::v1::Kpis* resp) {
  const int64_t since = req.has_since() ? TimeUtil::TimestampToMicroseconds(req.since()) : 0;
  const int64_t until = req.has_until() ? TimeUtil::TimestampToMicroseconds(req.until())
                                        : std::numeric_limits<int64_t>::max();
  if (since >= until) return FieldError("until", "must be after since");
  if (absl::Status st = kpi_follower_->CatchUp(); !st.ok()) {
    LogWarn("GetKpis answers from the figures read before: intake could not be followed",
            {{"error", std::string(st.message())}});
  }
  absl::Status st = kpis_->Compute(since, until, req.agency_code(), resp);
  if (!st.ok()) return absl::UnavailableError(st.message());
  return absl::OkStatus();
}

}  // namespace dossiersync::reconciliation
