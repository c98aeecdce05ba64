#include "services/reconciliation/service.h"

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
    // Received / online / resolved / on time over dossiers submitted in the window.
    auto cctx = MakeContext(intake_client_, absl::Minutes(10));
    dossiersync::v1::ListDossiersRequest lr;
    lr.set_agency_code(req->agency_code());
    auto reader = intake_->ListDossiers(cctx.get(), lr);
    dossiersync::v1::Dossier d;
    int64_t received = 0, online = 0, resolved = 0, on_time = 0;
    auto in_window = [&](const google::protobuf::Timestamp& t) {
      int64_t us = TimeUtil::TimestampToMicroseconds(t);
      return (!req->has_since() || us >= TimeUtil::TimestampToMicroseconds(req->since())) &&
             (!req->has_until() || us < TimeUtil::TimestampToMicroseconds(req->until()));
    };
    while (reader->Read(&d)) {
      if (!in_window(d.submitted_at())) continue;
      ++received;
      online += d.channel() == dossiersync::v1::CHANNEL_ONLINE;
      if (d.has_finished_at()) {
        ++resolved;
        on_time += !d.has_due_at() || TimeUtil::TimestampToMicroseconds(d.finished_at()) <=
                                          TimeUtil::TimestampToMicroseconds(d.due_at());
      }
    }
    grpc::Status st = reader->Finish();
    if (!st.ok()) return r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, st.error_message()));
    resp->set_received(received);
    resp->set_online_share(received ? static_cast<double>(online) / received : 0);
    resp->set_resolved(resolved);
    resp->set_on_time_share(resolved ? static_cast<double>(on_time) / resolved : 0);
    auto latest = store_->LatestFinished();
    resp->set_in_sync_share(latest.ok() && latest->has_value() ? (*latest)->consistency_ratio()
                                                               : 0);
    r->Finish(grpc::Status::OK);
  });
  return r;
}

}  // namespace dossiersync::reconciliation
