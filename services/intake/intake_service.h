// dossiersync.v1.IntakeService on gRPC's callback API: one small reactor per call, never blocking
// inside a reaction (writes complete on the store's writer thread; reads run on a small pool).
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
#include "services/intake/validator.h"

namespace dossiersync::intake {

class IntakeServiceImpl final : public dossiersync::v1::IntakeService::CallbackService {
 public:
  IntakeServiceImpl(IntakeStore* store, const Authenticator* auth, ValidatorConfig config,
                    prometheus::Registry& registry);
  ~IntakeServiceImpl() override;

  grpc::ServerUnaryReactor* SubmitChange(grpc::CallbackServerContext* ctx,
                                         const dossiersync::v1::SubmitChangeRequest* req,
                                         dossiersync::v1::SubmitChangeResponse* resp) override;
  grpc::ServerBidiReactor<dossiersync::v1::SubmitChangeRequest,
                          dossiersync::v1::SubmitChangeResponse>*
  SubmitChanges(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetDossier(grpc::CallbackServerContext* ctx,
                                       const dossiersync::v1::GetDossierRequest* req,
                                       dossiersync::v1::Dossier* resp) override;
  grpc::ServerWriteReactor<dossiersync::v1::Dossier>* ListDossiers(
      grpc::CallbackServerContext* ctx, const dossiersync::v1::ListDossiersRequest* req) override;

  // Shared by the unary and streaming paths: authenticate, validate, queue for the store.
  // `done` gets the outcome as an absl::Status plus the response.
  void Process(const grpc::CallbackServerContext* ctx,
               const dossiersync::v1::SubmitChangeRequest* req,
               std::function<void(const absl::Status&, const ApplyResult&)> done);

  IntakeStore* store() { return store_; }
  WorkPool* readers() { return &readers_; }
  const Authenticator* auth() { return auth_; }

 private:
  void Count(const absl::Status& st, const ApplyResult& r, absl::Time start);

  IntakeStore* store_;
  const Authenticator* auth_;
  const ValidatorConfig config_;
  WorkPool readers_{2};
  prometheus::Family<prometheus::Counter>* accepted_;
  prometheus::Family<prometheus::Counter>* rejected_;
  prometheus::Histogram* latency_;
};

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_INTAKE_SERVICE_H_
