// dossiersync.v1.IntakeService on gRPC's callback API: one small reactor per call, never blocking
// inside a reaction (writes complete on the store's writer thread; reads run on a small pool).
// Methods are raw (ByteBuffer) so that malformed bytes get a specific INVALID_ARGUMENT and a bad
// item in a SubmitChanges stream gets its own error response (common/raw_messages.h).
//
// Thread safety: the service is thread-safe; reactors serialise their own state with a mutex.
#ifndef DOSSIERSYNC_SERVICES_INTAKE_INTAKE_SERVICE_H_
#define DOSSIERSYNC_SERVICES_INTAKE_INTAKE_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "common/auth.h"
#include "common/work_pool.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/intake/intake_store.h"
#include "services/intake/published_log.h"
#include "services/intake/validator.h"

namespace dossiersync::intake {

using IntakeRawService = dossiersync::v1::IntakeService::WithRawCallbackMethod_SubmitChange<
    dossiersync::v1::IntakeService::WithRawCallbackMethod_SubmitChanges<
        dossiersync::v1::IntakeService::WithRawCallbackMethod_GetDossier<
            dossiersync::v1::IntakeService::WithRawCallbackMethod_GetDossierHistory<
                dossiersync::v1::IntakeService::WithRawCallbackMethod_ListDossiers<
                    dossiersync::v1::IntakeService::WithRawCallbackMethod_Republish<
                        dossiersync::v1::IntakeService::Service>>>>>>;

// The metric label for a violated field: indices dropped ("new_steps[3].officer" ->
// "new_steps[].officer"), so the label set is bounded.
std::string FieldLabel(absl::string_view field);

class IntakeServiceImpl final : public IntakeRawService {
 public:
  IntakeServiceImpl(IntakeStore* store, const Authenticator* auth, ValidatorConfig config,
                    prometheus::Registry& registry);
  ~IntakeServiceImpl() override;

  grpc::ServerUnaryReactor* SubmitChange(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SubmitChanges(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetDossier(grpc::CallbackServerContext* ctx,
                                       const grpc::ByteBuffer* req,
                                       grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetDossierHistory(grpc::CallbackServerContext* ctx,
                                              const grpc::ByteBuffer* req,
                                              grpc::ByteBuffer* resp) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* ListDossiers(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* req) override;
  // Operators only: the relay publishes retained changes again (OutboxRelay::Republish).
  grpc::ServerUnaryReactor* Republish(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                      grpc::ByteBuffer* resp) override;
  using Republisher = std::function<absl::StatusOr<RepublishResult>(absl::Time since)>;
  void SetRepublisher(Republisher r) { republisher_ = std::move(r); }  // before serving

  // Shared by the unary and streaming paths: authenticate, validate, queue for the store.
  // `done` gets the outcome as an absl::Status plus the response.
  void Process(const grpc::CallbackServerContext* ctx,
               const dossiersync::v1::SubmitChangeRequest* req,
               std::function<void(const absl::Status&, const ApplyResult&)> done);

  IntakeStore* store() { return store_; }
  WorkPool* readers() { return &readers_; }
  const Authenticator* auth() { return auth_; }

 private:
  // Counts the outcome; a rejection is also logged under the request's trace.
  void Count(const absl::Status& st, const ApplyResult& r, absl::Time start,
             const std::string& traceparent, const std::string& code);
  // GetDossier and GetDossierHistory: authenticate, parse the code, then on a reader thread
  // `read(request)` and answer it (NOT_FOUND when it gives nullopt, PERMISSION_DENIED for another
  // agency's dossier).
  using Read = std::function<absl::StatusOr<std::optional<std::pair<std::string, std::string>>>(
      const dossiersync::v1::GetDossierRequest& req)>;  // (agency_code, serialized answer)
  grpc::ServerUnaryReactor* ReadOne(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw,
                                    grpc::ByteBuffer* raw_resp, Read read);

  IntakeStore* store_;
  const Authenticator* auth_;
  const ValidatorConfig config_;
  WorkPool readers_{2};
  Republisher republisher_;
  prometheus::Family<prometheus::Counter>* accepted_;
  prometheus::Family<prometheus::Counter>* rejected_;
  prometheus::Family<prometheus::Counter>* violations_;
  prometheus::Histogram* latency_;
};

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_INTAKE_SERVICE_H_
