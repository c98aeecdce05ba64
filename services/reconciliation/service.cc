#include "services/reconciliation/service.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::reconciliation {

using google::protobuf::util::TimeUtil;

namespace {

// Authenticates as operator; on failure finishes `r` and returns false.
bool Allowed(const Authenticator* auth, grpc::CallbackServerContext* ctx,
             grpc::ServerUnaryReactor* r) {
  auto caller = auth->Authenticate(*ctx, Role::kOperator);
  if (!caller.ok()) r->Finish(ToGrpcStatus(caller.status()));
  return caller.ok();
}

class DriftStream : public grpc::ServerWriteReactor<dossiersync::v1::DriftItem> {
 public:
  DriftStream(ServiceImpl* svc, grpc::CallbackServerContext* ctx,
              const dossiersync::v1::ListDriftRequest* req) {
    auto caller = svc->auth()->Authenticate(*ctx, Role::kOperator);
    if (!caller.ok()) {
      Finish(ToGrpcStatus(caller.status()));
      return;
    }
    svc->pool()->Post([this, svc, run_id = req->run_id(), kind = static_cast<int>(req->kind())] {
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
      StartWrite(&items_[pos_++]);
    } else {
      Finish(grpc::Status::OK);
    }
  }
  std::vector<dossiersync::v1::DriftItem> items_;
  size_t pos_ = 0;
};

}  // namespace

grpc::ServerUnaryReactor* ServiceImpl::StartRun(grpc::CallbackServerContext* ctx,
                                                const dossiersync::v1::StartRunRequest* req,
                                                dossiersync::v1::StartRunResponse* resp) {
  auto* r = ctx->DefaultReactor();
  if (!Allowed(auth_, ctx, r)) return r;
  pool_.Post([this, r, req, resp] {
    auto id = runner_->Start(*req);
    if (!id.ok()) return r->Finish(ToGrpcStatus(id.status()));
    resp->set_run_id(*id);
    r->Finish(grpc::Status::OK);
  });
  return r;
}

grpc::ServerUnaryReactor* ServiceImpl::GetRun(grpc::CallbackServerContext* ctx,
                                              const dossiersync::v1::GetRunRequest* req,
                                              dossiersync::v1::ReconciliationRun* resp) {
  auto* r = ctx->DefaultReactor();
  if (!Allowed(auth_, ctx, r)) return r;
  if (req->run_id().empty()) {
    r->Finish(ToGrpcStatus(FieldError("run_id", "required")));
    return r;
  }
  pool_.Post([this, r, id = req->run_id(), resp] {
    auto run = store_->GetRun(id);
    if (!run.ok()) return r->Finish(ToGrpcStatus(absl::UnavailableError(run.status().message())));
    if (!run->has_value()) {
      return r->Finish(ToGrpcStatus(
          ReasonError(absl::StatusCode::kNotFound, "RUN_NOT_FOUND", absl::StrCat("no run ", id))));
    }
    *resp = std::move(**run);
    r->Finish(grpc::Status::OK);
  });
  return r;
}

grpc::ServerWriteReactor<dossiersync::v1::DriftItem>* ServiceImpl::ListDrift(
    grpc::CallbackServerContext* ctx, const dossiersync::v1::ListDriftRequest* req) {
  return new DriftStream(this, ctx, req);
}

grpc::ServerUnaryReactor* ServiceImpl::GetKpis(grpc::CallbackServerContext* ctx,
                                               const dossiersync::v1::GetKpisRequest* req,
                                               dossiersync::v1::Kpis* resp) {
  auto* r = ctx->DefaultReactor();
  if (!Allowed(auth_, ctx, r)) return r;
  pool_.Post([this, r, req, resp] {
    auto st = ComputeKpis(*req, resp);
    r->Finish(st.ok() ? grpc::Status::OK : ToGrpcStatus(st));
  });
  return r;
}

namespace {

struct Counts {
  int64_t received = 0, online = 0, resolved = 0, on_time = 0;
  std::vector<int64_t> lags_us;
};

// Nearest-rank percentile of sorted values.
int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void Fill(Counts& c, double in_sync, dossiersync::v1::Kpis* k) {
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
  // Received / online / resolved / on time over dossiers submitted in the window.
  Counts total;
  std::map<std::string, Counts> agencies;
  auto cctx = MakeContext(intake_client_, absl::Minutes(10));
  dossiersync::v1::ListDossiersRequest lr;
  lr.set_agency_code(req.agency_code());
  auto reader = intake_->ListDossiers(cctx.get(), lr);
  dossiersync::v1::Dossier d;
  while (reader->Read(&d)) {
    const int64_t submitted = TimeUtil::TimestampToMicroseconds(d.submitted_at());
    if (submitted < since || submitted >= until) continue;
    const bool online = d.channel() == dossiersync::v1::CHANNEL_ONLINE;
    const bool resolved = d.has_finished_at();
    const bool on_time =
        resolved && (!d.has_due_at() || TimeUtil::TimestampToMicroseconds(d.finished_at()) <=
                                            TimeUtil::TimestampToMicroseconds(d.due_at()));
    for (Counts* c : {&total, &agencies[d.agency_code()]}) {
      ++c->received;
      c->online += online;
      c->resolved += resolved;
      c->on_time += on_time;
    }
  }
  grpc::Status st = reader->Finish();
  if (!st.ok())
    return absl::UnavailableError(absl::StrCat("intake ListDossiers: ", st.error_message()));
  // Sync lag of the changes intake accepted in the window (evidence from sync-results).
  auto lags = store_->SyncLags(since, until, req.agency_code());
  if (!lags.ok()) return absl::UnavailableError(lags.status().message());
  for (const auto& [agency, lag] : *lags) {
    total.lags_us.push_back(lag);
    agencies[agency].lags_us.push_back(lag);
  }
  // In sync: the latest finished run's share of checked dossiers without drift.
  auto latest = store_->LatestFinished();
  if (!latest.ok()) return absl::UnavailableError(latest.status().message());
  auto in_sync = [&](const std::string& agency) -> double {
    if (!latest->has_value()) return 0;
    const auto& run = **latest;
    if (agency.empty()) return run.consistency_ratio();
    auto c = run.checked_by_agency().find(agency);
    if (c == run.checked_by_agency().end() || c->second == 0) return 0;
    auto dr = run.drifted_by_agency().find(agency);
    int64_t drifted = dr == run.drifted_by_agency().end() ? 0 : dr->second;
    return static_cast<double>(c->second - drifted) / c->second;
  };
  Fill(total, in_sync(req.agency_code()), resp);
  if (req.agency_code().empty()) {
    for (auto& [agency, c] : agencies)
      Fill(c, in_sync(agency), &(*resp->mutable_by_agency())[agency]);
  }
  return absl::OkStatus();
}

}  // namespace dossiersync::reconciliation
