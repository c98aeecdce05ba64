#include "services/sync/sync_service.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::sync {

using google::protobuf::util::TimeUtil;

grpc::ServerUnaryReactor* SyncServiceImpl::GetSyncState(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::GetSyncStateRequest, dossiersync::v1::SyncState>(ctx, in, out);
  if (!call->started()) return call->reactor();
  if (call->req().code().empty()) {
    call->Finish(FieldError("code", "required"));
    return call->reactor();
  }
  pool_.Post([this, call] {
    const std::string& code = call->req().code();
    dossiersync::v1::SyncState* resp = call->resp();
    auto row = ledger_->Get(code);
    if (!row.ok()) return call->Finish(absl::UnavailableError(row.status().message()));
    if (!row->has_value()) {
      return call->Finish(ReasonError(absl::StatusCode::kNotFound, "DOSSIER_NOT_SEEN",
                                      absl::StrCat("sync has not seen ", code)));
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
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

grpc::ServerUnaryReactor* SyncServiceImpl::Resync(grpc::CallbackServerContext* ctx,
                                                  const grpc::ByteBuffer* in,
                                                  grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::ResyncRequest, dossiersync::v1::ResyncResponse>(ctx, in, out);
  if (!call->started()) return call->reactor();
  const dossiersync::v1::ResyncRequest* req = &call->req();
  if (req->codes().empty()) {
    call->Finish(FieldError("codes", "at least one dossier code"));
    return call->reactor();
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
      call->Finish(absl::UnavailableError(st.message()));
      return call->reactor();
    }
  }
  call->resp()->set_requested(req->codes_size());
  call->Finish(absl::OkStatus());
  return call->reactor();
}

grpc::ServerUnaryReactor* SyncServiceImpl::Pause(grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::PauseRequest, dossiersync::v1::PauseResponse>(ctx, in, out);
  if (!call->started()) return call->reactor();
  engine_->SetOperatorPause(true);
  LogWarn("consumption paused by an operator", {{"reason", call->req().reason()}});
  call->resp()->set_paused(true);
  call->Finish(absl::OkStatus());
  return call->reactor();
}

grpc::ServerUnaryReactor* SyncServiceImpl::Resume(grpc::CallbackServerContext* ctx,
                                                  const grpc::ByteBuffer* in,
                                                  grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::ResumeRequest, dossiersync::v1::ResumeResponse>(ctx, in, out);
  if (!call->started()) return call->reactor();
  engine_->SetOperatorPause(false);
  LogInfo("consumption resumed by an operator");
  call->resp()->set_paused(false);
  call->Finish(absl::OkStatus());
  return call->reactor();
}

namespace {

dossiersync::v1::DeadLetterSummary ToProto(const DeadLetterRow& d) {
  dossiersync::v1::DeadLetterSummary out;
  out.set_id(d.id);
  out.set_code(d.code);
  out.set_agency_code(d.change.dossier().agency_code());
  out.set_revision(d.change.revision());
  out.set_reason(d.reason);
  *out.mutable_dead_lettered_at() = TimeUtil::MicrosecondsToTimestamp(d.at_us);
  out.set_replayed(d.replayed);
  return out;
}

}  // namespace

grpc::ServerUnaryReactor* SyncServiceImpl::ReplayDeadLetters(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* in,
                                                             grpc::ByteBuffer* out) {
  auto call =
      Begin<dossiersync::v1::ReplayDeadLettersRequest, dossiersync::v1::ReplayDeadLettersResponse>(
          ctx, in, out);
  if (!call->started()) return call->reactor();
  pool_.Post([this, call] {
    const auto& req = call->req();
    DeadLetterQuery q{
        {req.codes().begin(), req.codes().end()}, req.agency_code(), req.reason_contains(), false};
    auto dls = ledger_->DeadLetters(q);
    if (!dls.ok()) return call->Finish(absl::UnavailableError(dls.status().message()));
    auto* resp = call->resp();
    resp->set_dry_run(req.dry_run());
    for (auto& d : *dls) {
      *resp->add_dead_letters() = ToProto(d);
      if (req.dry_run()) continue;
      if (auto st = ledger_->MarkReplayed(d.id); !st.ok()) {
        return call->Finish(absl::UnavailableError(st.message()));
      }
      Work w;
      w.change = std::move(d.change);
      w.force = true;
      engine_->Enqueue(std::move(w));
      resp->set_replayed(resp->replayed() + 1);
    }
    LogInfo(req.dry_run() ? "dead letters to replay (dry run)" : "dead letters replayed",
            {{"count", static_cast<int64_t>(dls->size())},
             {"agency_code", req.agency_code()},
             {"reason_contains", req.reason_contains()}});
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

grpc::ServerUnaryReactor* SyncServiceImpl::ListDeadLetters(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* in,
                                                           grpc::ByteBuffer* out) {
  auto call =
      Begin<dossiersync::v1::ListDeadLettersRequest, dossiersync::v1::ListDeadLettersResponse>(
          ctx, in, out);
  if (!call->started()) return call->reactor();
  const int limit = call->req().limit();
  if (limit < 0 || limit > 10000) {
    call->Finish(FieldError("limit", "0 (1,000) to 10,000"));
    return call->reactor();
  }
  pool_.Post([this, call, limit] {
    const auto& f = call->req().filter();
    DeadLetterQuery q{{f.codes().begin(), f.codes().end()},
                      f.agency_code(),
                      f.reason_contains(),
                      f.include_replayed()};
    auto dls = ledger_->DeadLetters(q);
    if (!dls.ok()) return call->Finish(absl::UnavailableError(dls.status().message()));
    auto* resp = call->resp();
    resp->set_matched(static_cast<int>(dls->size()));
    const size_t n = std::min(dls->size(), static_cast<size_t>(limit == 0 ? 1000 : limit));
    for (size_t i = 0; i < n; ++i) *resp->add_dead_letters() = ToProto((*dls)[i]);
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

grpc::ServerUnaryReactor* SyncServiceImpl::GetStatus(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* in,
                                                     grpc::ByteBuffer* out) {
  auto call = Begin<dossiersync::v1::GetStatusRequest, dossiersync::v1::SyncStatus>(ctx, in, out);
  if (!call->started()) return call->reactor();
  pool_.Post([this, call] {
    auto* resp = call->resp();
    resp->set_operator_paused(engine_->operator_paused());
    resp->set_breaker_open(engine_->breaker_open());
    resp->set_pending(static_cast<int64_t>(engine_->pending()));
    auto dls = ledger_->DeadLetters(DeadLetterQuery{});
    if (!dls.ok()) return call->Finish(absl::UnavailableError(dls.status().message()));
    resp->set_dead_letters(static_cast<int64_t>(dls->size()));
    for (const auto& d : *dls) {
      ++(*resp->mutable_dead_letters_by_agency())[d.change.dossier().agency_code()];
    }
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

}  // namespace dossiersync::sync
