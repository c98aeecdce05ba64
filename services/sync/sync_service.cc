#include "services/sync/sync_service.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::sync {

using google::protobuf::util::TimeUtil;

grpc::ServerUnaryReactor* SyncServiceImpl::Start(grpc::CallbackServerContext* ctx, bool* ok) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  auto caller = auth_->Authenticate(*ctx, Role::kOperator);
  *ok = caller.ok();
  if (!*ok) r->Finish(ToGrpcStatus(caller.status()));
  return r;
}

grpc::ServerUnaryReactor* SyncServiceImpl::GetSyncState(
    grpc::CallbackServerContext* ctx, const dossiersync::v1::GetSyncStateRequest* req,
    dossiersync::v1::SyncState* resp) {
  bool ok;
  auto* r = Start(ctx, &ok);
  if (!ok) return r;
  if (req->code().empty()) {
    r->Finish(ToGrpcStatus(FieldError("code", "required")));
    return r;
  }
  pool_.Post([this, r, code = req->code(), resp] {
    auto row = ledger_->Get(code);
    if (!row.ok()) return r->Finish(ToGrpcStatus(absl::UnavailableError(row.status().message())));
    if (!row->has_value()) {
      return r->Finish(ToGrpcStatus(ReasonError(absl::StatusCode::kNotFound, "DOSSIER_NOT_SEEN",
                                                absl::StrCat("sync has not seen ", code))));
    }
    const LedgerRow& l = **row;
    resp->set_code(code);
    resp->set_created_nationally(l.created);
    resp->set_revision_seen(l.revision_seen);
    resp->set_revision_pushed(l.revision_pushed);
    resp->set_steps_seen(l.steps_seen);
    resp->set_steps_pushed(l.steps_pushed);
    resp->set_attempts(l.attempts);
    resp->set_last_error(l.last_error);
    *resp->mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(l.updated_at_us);
    bool retrying = false;
    bool busy = engine_->Busy(code, &retrying);
    if (l.state == dossiersync::v1::SYNC_STATE_KIND_DEAD_LETTERED && !busy) {
      resp->set_state(dossiersync::v1::SYNC_STATE_KIND_DEAD_LETTERED);
    } else if (busy) {
      resp->set_state(retrying ? dossiersync::v1::SYNC_STATE_KIND_RETRYING
                               : dossiersync::v1::SYNC_STATE_KIND_PENDING);
    } else if (l.revision_pushed >= l.revision_seen && l.steps_pushed == l.steps_seen) {
      resp->set_state(dossiersync::v1::SYNC_STATE_KIND_IN_SYNC);
    } else {
      resp->set_state(l.state == dossiersync::v1::SYNC_STATE_KIND_RETRYING
                          ? dossiersync::v1::SYNC_STATE_KIND_RETRYING
                          : dossiersync::v1::SYNC_STATE_KIND_PENDING);
    }
    r->Finish(grpc::Status::OK);
  });
  return r;
}

grpc::ServerUnaryReactor* SyncServiceImpl::Resync(grpc::CallbackServerContext* ctx,
                                                  const dossiersync::v1::ResyncRequest* req,
                                                  dossiersync::v1::ResyncResponse* resp) {
  bool ok;
  auto* r = Start(ctx, &ok);
  if (!ok) return r;
  if (req->codes().empty()) {
    r->Finish(ToGrpcStatus(FieldError("codes", "at least one dossier code")));
    return r;
  }
  for (const auto& code : req->codes()) {
    dossiersync::v1::SyncRequest sr;
    sr.set_code(code);
    sr.set_reason(req->reason().empty() ? "SyncService.Resync" : req->reason());
    sr.set_requested_by("SyncService.Resync");
    sr.set_full(req->full());
    *sr.mutable_requested_at() = NowTimestamp();
    OutMessage m{kTopicSyncRequests,
                 code,
                 sr.SerializeAsString(),
                 "dossiersync.v1.SyncRequest",
                 NewEventId(),
                 NewTraceparent(),
                 0};
    if (absl::Status st = producer_->Produce(m); !st.ok()) {
      r->Finish(ToGrpcStatus(absl::UnavailableError(st.message())));
      return r;
    }
  }
  resp->set_requested(req->codes_size());
  r->Finish(grpc::Status::OK);
  return r;
}

grpc::ServerUnaryReactor* SyncServiceImpl::Pause(grpc::CallbackServerContext* ctx,
                                                 const dossiersync::v1::PauseRequest* req,
                                                 dossiersync::v1::PauseResponse* resp) {
  bool ok;
  auto* r = Start(ctx, &ok);
  if (!ok) return r;
  engine_->SetOperatorPause(true);
  LogWarn("consumption paused by an operator", {{"reason", req->reason()}});
  resp->set_paused(true);
  r->Finish(grpc::Status::OK);
  return r;
}

grpc::ServerUnaryReactor* SyncServiceImpl::Resume(grpc::CallbackServerContext* ctx,
                                                  const dossiersync::v1::ResumeRequest*,
                                                  dossiersync::v1::ResumeResponse* resp) {
  bool ok;
  auto* r = Start(ctx, &ok);
  if (!ok) return r;
  engine_->SetOperatorPause(false);
  LogInfo("consumption resumed by an operator");
  resp->set_paused(false);
  r->Finish(grpc::Status::OK);
  return r;
}

grpc::ServerUnaryReactor* SyncServiceImpl::ReplayDeadLetters(
    grpc::CallbackServerContext* ctx, const dossiersync::v1::ReplayDeadLettersRequest* req,
    dossiersync::v1::ReplayDeadLettersResponse* resp) {
  bool ok;
  auto* r = Start(ctx, &ok);
  if (!ok) return r;
  std::vector<std::string> codes(req->codes().begin(), req->codes().end());
  pool_.Post([this, r, codes, resp] {
    auto dls = ledger_->DeadLetters(codes);
    if (!dls.ok()) return r->Finish(ToGrpcStatus(absl::UnavailableError(dls.status().message())));
    for (auto& d : *dls) {
      if (auto st = ledger_->MarkReplayed(d.id); !st.ok()) {
        return r->Finish(ToGrpcStatus(absl::UnavailableError(st.message())));
      }
      Work w;
      w.change = std::move(d.change);
      w.force = true;
      engine_->Enqueue(std::move(w));
    }
    resp->set_replayed(static_cast<int>(dls->size()));
    LogInfo("dead letters replayed", {{"count", static_cast<int64_t>(dls->size())}});
    r->Finish(grpc::Status::OK);
  });
  return r;
}

}  // namespace dossiersync::sync
