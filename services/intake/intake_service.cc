#include "services/intake/intake_service.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/raw_messages.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::intake {

using dossiersync::v1::Dossier;
using dossiersync::v1::GetDossierRequest;
using dossiersync::v1::SubmitChangeRequest;
using dossiersync::v1::SubmitChangeResponse;
using google::protobuf::util::TimeUtil;

namespace {

std::string ReasonLabel(const google::rpc::Status& details, const absl::Status& st) {
  std::string reason = ReasonOf(details);
  if (!reason.empty()) return reason;
  return std::string(absl::StatusCodeToString(st.code()));
}

}  // namespace

std::string FieldLabel(absl::string_view field) {
  // Indices go ("new_steps[3].officer" -> "new_steps[].officer"): the validator names a fixed set
  // of fields, so the label set stays bounded whatever the requests carry.
  std::string out;
  out.reserve(field.size());
  bool in_index = false;
  for (char c : field) {
    if (c == '[') {
      in_index = true;
      out.push_back(c);
    } else if (c == ']') {
      in_index = false;
      out.push_back(c);
    } else if (!in_index) {
      out.push_back(c);
    }
  }
  return out;
}

namespace {}  // namespace

IntakeServiceImpl::IntakeServiceImpl(IntakeStore* store, const Authenticator* auth,
                                     ValidatorConfig config, prometheus::Registry& registry)
    : store_(store), auth_(auth), config_(std::move(config)) {
  accepted_ = &prometheus::BuildCounter()
                   .Name("dossiersync_intake_accepted_total")
                   .Help("Changes accepted (kind: stored or duplicate)")
                   .Register(registry);
  rejected_ = &prometheus::BuildCounter()
                   .Name("dossiersync_intake_rejected_total")
                   .Help(
                       "Changes rejected, by reason and (for INVALID_FIELD) the first field "
                       "violated, indices dropped")
                   .Register(registry);
  violations_ = &prometheus::BuildCounter()
                     .Name("dossiersync_intake_field_violations_total")
                     .Help("Field violations of rejected changes, one per violated field")
                     .Register(registry);
  latency_ = &prometheus::BuildHistogram()
                  .Name("dossiersync_intake_submit_latency_seconds")
                  .Help("SubmitChange latency, from receipt to durable outcome")
                  .Register(registry)
                  .Add({}, LatencyBuckets());
}

IntakeServiceImpl::~IntakeServiceImpl() = default;

void IntakeServiceImpl::Count(const absl::Status& st, const ApplyResult& r, absl::Time start,
                              const std::string& traceparent, const std::string& code) {
  latency_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  if (st.ok()) {
    accepted_->Add({{"kind", r.duplicate ? "duplicate" : "stored"}}).Increment();
  } else {
    google::rpc::Status details = ToRpcStatus(st);
    std::vector<std::string> fields = FieldsOf(details);
    {
      // The request's own trace (the caller's traceparent, this span), so that a portal backend's
      // trace finds why its change bounced.
      ScopedTrace trace(traceparent);
      nlohmann::json named = nlohmann::json::array();
      for (size_t i = 0; i < fields.size() && i < 10; ++i) named.push_back(fields[i]);
      LogInfo("change rejected", {{"code", code},
                                  {"status", std::string(absl::StatusCodeToString(st.code()))},
                                  {"reason", ReasonLabel(details, st)},
                                  {"fields", named},
                                  {"error", std::string(st.message())}});
    }
    rejected_
        ->Add({{"reason", ReasonLabel(details, st)},
               {"field", fields.empty() ? "" : FieldLabel(fields[0])}})
        .Increment();
    std::set<std::string> seen;
    for (const auto& f : fields) {
      if (seen.insert(FieldLabel(f)).second)
        violations_->Add({{"field", FieldLabel(f)}}).Increment();
    }
  }
}

void IntakeServiceImpl::Process(const grpc::CallbackServerContext* ctx,
                                const SubmitChangeRequest* req,
                                std::function<void(const absl::Status&, const ApplyResult&)> done) {
  const absl::Time start = absl::Now();
  // This request's span in the caller's trace: on every log line about it and on what goes to
  // Kafka.
  std::string traceparent = ChildTraceparent(ClientMetadata(ctx, "traceparent"));
  const std::string& code = req->dossier().code();
  auto fail = [&](const absl::Status& st) {
    Count(st, {}, start, traceparent, code);
    done(st, {});
  };
  auto caller = auth_->Authenticate(*ctx, Role::kPortal);
  if (!caller.ok()) return fail(caller.status());
  if (absl::Status st = ValidateRequest(*req, config_, start); !st.ok()) return fail(st);
  if (!caller->MayUseAgency(req->dossier().agency_code())) {
    return fail(ReasonError(absl::StatusCode::kPermissionDenied, "AGENCY_NOT_ALLOWED",
                            absl::StrCat("caller ", caller->name, " may not submit for agency ",
                                         req->dossier().agency_code()),
                            {{"agency_code", req->dossier().agency_code()}}));
  }
  store_->Submit(
      req, traceparent,
      [this, start, traceparent, code, done = std::move(done)](absl::StatusOr<ApplyResult> r) {
        ApplyResult res = r.ok() ? *r : ApplyResult{};
        Count(r.status(), res, start, traceparent, code);
        done(r.status(), res);
      });
}

grpc::ServerUnaryReactor* IntakeServiceImpl::SubmitChange(grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* raw,
                                                          grpc::ByteBuffer* raw_resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto req = std::make_shared<SubmitChangeRequest>();
  if (absl::Status st = ParseRaw(*raw, req.get()); !st.ok()) {
    Count(st, {}, absl::Now(), ChildTraceparent(ClientMetadata(ctx, "traceparent")), "");
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  Process(ctx, req.get(), [reactor, req, raw_resp](const absl::Status& st, const ApplyResult& r) {
    if (st.ok()) {
      SubmitChangeResponse resp;
      resp.set_code(req->dossier().code());
      resp.set_revision(r.revision);
      resp.set_duplicate(r.duplicate);
      SerializeRaw(resp, raw_resp);
    }
    reactor->Finish(ToGrpcStatus(st));
  });
  return reactor;
}

grpc::ServerUnaryReactor* IntakeServiceImpl::ReadOne(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* raw,
                                                     grpc::ByteBuffer* raw_resp, Read read) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto caller = auth_->Authenticate(*ctx, Role::kPortal);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  GetDossierRequest req;
  if (absl::Status st = ParseRaw(*raw, &req); !st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  if (req.code().empty()) {
    reactor->Finish(ToGrpcStatus(FieldError("code", "required")));
    return reactor;
  }
  readers_.Post([reactor, req, raw_resp, caller = *caller, read = std::move(read)] {
    const std::string& code = req.code();
    auto r = read(req);
    if (!r.ok()) {
      reactor->Finish(ToGrpcStatus(absl::UnavailableError(r.status().message())));
    } else if (!r->has_value()) {
      reactor->Finish(
          ToGrpcStatus(ReasonError(absl::StatusCode::kNotFound, "DOSSIER_NOT_FOUND",
                                   absl::StrCat("no dossier with code ", code), {{"code", code}})));
    } else if (!caller.MayUseAgency((*r)->first)) {
      reactor->Finish(
          ToGrpcStatus(ReasonError(absl::StatusCode::kPermissionDenied, "AGENCY_NOT_ALLOWED",
                                   "dossier belongs to another agency")));
    } else {
      grpc::Slice slice((*r)->second);
      *raw_resp = grpc::ByteBuffer(&slice, 1);
      reactor->Finish(grpc::Status::OK);
    }
  });
  return reactor;
}

grpc::ServerUnaryReactor* IntakeServiceImpl::GetDossier(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* raw,
                                                        grpc::ByteBuffer* raw_resp) {
  return ReadOne(ctx, raw, raw_resp, [this](const GetDossierRequest& req) {
    using Answer = std::optional<std::pair<std::string, std::string>>;
    auto d = store_->Get(req.code());
    if (!d.ok()) return absl::StatusOr<Answer>(d.status());
    if (!d->has_value()) return absl::StatusOr<Answer>(Answer());
    return absl::StatusOr<Answer>(Answer({(*d)->agency_code(), (*d)->SerializeAsString()}));
  });
}

grpc::ServerUnaryReactor* IntakeServiceImpl::GetDossierHistory(grpc::CallbackServerContext* ctx,
                                                               const grpc::ByteBuffer* raw,
                                                               grpc::ByteBuffer* raw_resp) {
  return ReadOne(ctx, raw, raw_resp, [this](const GetDossierRequest& req) {
    using Answer = std::optional<std::pair<std::string, std::string>>;
    const std::string& code = req.code();
    auto h = store_->History(code);
    if (!h.ok()) return absl::StatusOr<Answer>(h.status());
    dossiersync::v1::DossierHistory out;
    if (req.include_publications()) {
      auto p = store_->Publications(code);
      if (!p.ok()) return absl::StatusOr<Answer>(p.status());
      for (auto& one : *p) *out.add_publications() = std::move(one);
    }
    if (h->empty()) {
      // Accepted before the history existed, or unknown: the current snapshot tells which.
      auto d = store_->Get(code);
      if (!d.ok()) return absl::StatusOr<Answer>(d.status());
      if (!d->has_value()) return absl::StatusOr<Answer>(Answer());
      return absl::StatusOr<Answer>(Answer({(*d)->agency_code(), out.SerializeAsString()}));
    }
    for (auto& d : *h) *out.add_revisions() = std::move(d);
    std::string agency = out.revisions(out.revisions_size() - 1).agency_code();
    return absl::StatusOr<Answer>(Answer({agency, out.SerializeAsString()}));
  });
}

grpc::ServerUnaryReactor* IntakeServiceImpl::Republish(grpc::CallbackServerContext* ctx,
                                                       const grpc::ByteBuffer* raw,
                                                       grpc::ByteBuffer* raw_resp) {
  auto call =
      RawUnaryCall<dossiersync::v1::RepublishRequest, dossiersync::v1::RepublishResponse>::Begin(
          ctx, raw, raw_resp, auth_->Authenticate(*ctx, Role::kOperator).status());
  if (!call->started()) return call->reactor();
  if (!call->req().has_since()) {
    call->Finish(FieldError("since", "required: republish the changes accepted since when"));
    return call->reactor();
  }
  if (!republisher_) {
    call->Finish(absl::FailedPreconditionError("republication is not available"));
    return call->reactor();
  }
  readers_.Post([this, call] {
    auto r =
        republisher_(absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(call->req().since())));
    if (!r.ok()) return call->Finish(absl::UnavailableError(r.status().message()));
    call->resp()->set_republished(r->republished);
    if (r->oldest_retained_us > 0) {
      *call->resp()->mutable_oldest_retained() =
          TimeUtil::MicrosecondsToTimestamp(r->oldest_retained_us);
    }
    call->Finish(absl::OkStatus());
  });
  return call->reactor();
}

}  // namespace dossiersync::intake
