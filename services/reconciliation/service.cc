#include "services/reconciliation/service.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
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

namespace {

struct Counts {
  int64_t received = 0, online = 0, resolved = 0, on_time = 0;
  int64_t known = 0, in_sync = 0;  // dossiers with national evidence, and those in sync
  std::vector<int64_t> lags_us;
};

// Nearest-rank percentile of sorted values.
int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void Fill(Counts& c, dossiersync::v1::Kpis* k) {
  const double in_sync = c.known ? static_cast<double>(c.in_sync) / c.known : 0;
  k->set_received(c.received);
  k->set_online_share(c.received ? static_cast<double>(c.online) / c.received : 0);
  k->set_resolved(c.resolved);
  k->set_on_time_share(c.resolved ? static_cast<double>(c.on_time) / c.resolved : 0);
  k->set_in_sync_share(in_sync);
  std::sort(c.lags_us.begin(), c.lags_us.end());
  *k->mutable_sync_lag_p50() = TimeUtil::MicrosecondsToDuration(Percentile(c.lags_us, 0.50));
  *k->mutable_sync_lag_p99() = TimeUtil::MicrosecondsToDuration(Percentile(c.lags_us, 0.99));
  k->set_lag_samples(static_cast<int64_t>(c.lags_us.size()));
}

}  // namespace

absl::Status ServiceImpl::ComputeKpis(const dossiersync::v1::GetKpisRequest& req,
                                      dossiersync::v1::Kpis* resp) {
  const int64_t since = req.has_since() ? TimeUtil::TimestampToMicroseconds(req.since()) : 0;
  const int64_t until = req.has_until() ? TimeUtil::TimestampToMicroseconds(req.until())
                                        : std::numeric_limits<int64_t>::max();
  if (since >= until) return FieldError("until", "must be after since");
  // Received / online / resolved / on time over dossiers submitted in the window; in sync by
  // each dossier's latest evidence.
  auto evidence = store_->Evidence(req.agency_code());
  if (!evidence.ok()) return absl::UnavailableError(evidence.status().message());
  Counts total;
  std::map<std::string, Counts> agencies;
  absl::Status listed = ForEachProvincial(req.agency_code(), [&](dossiersync::v1::Dossier& d) {
    const int64_t submitted = TimeUtil::TimestampToMicroseconds(d.submitted_at());
    if (submitted < since || submitted >= until) return;
    const bool online = d.channel() == dossiersync::v1::CHANNEL_ONLINE;
    const bool resolved = d.has_finished_at();
    const bool on_time =
        resolved && (!d.has_due_at() || TimeUtil::TimestampToMicroseconds(d.finished_at()) <=
                                            TimeUtil::TimestampToMicroseconds(d.due_at()));
    auto e = evidence->find(d.code());
    NationalView v = NationalViewOf(d, e == evidence->end() ? nullptr : &e->second);
    for (Counts* c : {&total, &agencies[d.agency_code()]}) {
      ++c->received;
      c->online += online;
      c->resolved += resolved;
      c->on_time += on_time;
      c->known += v.known;
      c->in_sync += v.in_sync;
    }
  });
  if (!listed.ok()) return listed;
  // Sync lag of the changes intake accepted in the window (evidence from sync-results).
  auto lags = store_->SyncLags(since, until, req.agency_code());
  if (!lags.ok()) return absl::UnavailableError(lags.status().message());
  for (const auto& [agency, lag] : *lags) {
    total.lags_us.push_back(lag);
    agencies[agency].lags_us.push_back(lag);
  }
  Fill(total, resp);
  if (req.agency_code().empty()) {
    for (auto& [agency, c] : agencies) Fill(c, &(*resp->mutable_by_agency())[agency]);
  }
  return absl::OkStatus();
}

}  // namespace dossiersync::reconciliation
