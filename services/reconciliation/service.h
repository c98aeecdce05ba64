// dossiersync.v1.ReconciliationService (operator token): StartRun, GetRun, ListDrift, GetKpis,
// GetScore. KPIs' in-sync share and the score come from each dossier's latest evidence
// (national_view.h), not from the last run.
//
// Thread safety: thread-safe; blocking work runs on a small pool, never in a reaction.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_SERVICE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "common/auth.h"
#include "common/grpc_client.h"
#include "common/work_pool.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "services/reconciliation/run_store.h"
#include "services/reconciliation/runner.h"

namespace dossiersync::reconciliation {

class ServiceImpl final : public dossiersync::v1::ReconciliationService::CallbackService {
 public:
  ServiceImpl(Runner* runner, RunStore* store, dossiersync::v1::IntakeService::Stub* intake,
              ClientOptions intake_client, const Authenticator* auth)
      : runner_(runner),
        store_(store),
        intake_(intake),
        intake_client_(std::move(intake_client)),
        auth_(auth) {}

  grpc::ServerUnaryReactor* StartRun(grpc::CallbackServerContext* ctx,
                                     const dossiersync::v1::StartRunRequest* req,
                                     dossiersync::v1::StartRunResponse* resp) override;
  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* ctx,
                                   const dossiersync::v1::GetRunRequest* req,
                                   dossiersync::v1::ReconciliationRun* resp) override;
  grpc::ServerWriteReactor<dossiersync::v1::DriftItem>* ListDrift(
      grpc::CallbackServerContext* ctx, const dossiersync::v1::ListDriftRequest* req) override;
  grpc::ServerUnaryReactor* GetKpis(grpc::CallbackServerContext* ctx,
                                    const dossiersync::v1::GetKpisRequest* req,
                                    dossiersync::v1::Kpis* resp) override;
  grpc::ServerUnaryReactor* GetScore(grpc::CallbackServerContext* ctx,
                                     const dossiersync::v1::GetScoreRequest* req,
                                     dossiersync::v1::Score* resp) override;

  RunStore* store() { return store_; }
  WorkPool* pool() { return &pool_; }
  const Authenticator* auth() { return auth_; }

 private:
  // The KPIs of `req`'s window and agency (see GetKpis); INVALID_ARGUMENT for an empty window,
  // UNAVAILABLE when intake or the database cannot answer.
  absl::Status ComputeKpis(const dossiersync::v1::GetKpisRequest& req, dossiersync::v1::Kpis* resp);
  // The score of `req`'s period and agency; INVALID_ARGUMENT for a malformed period.
  absl::Status ComputeScore(const dossiersync::v1::GetScoreRequest& req,
                            dossiersync::v1::Score* resp);
  // Streams the provincial dossiers of `agency` from intake into `each`.
  absl::Status ForEachProvincial(const std::string& agency,
                                 const std::function<void(dossiersync::v1::Dossier&)>& each);
  Runner* runner_;
  RunStore* store_;
  dossiersync::v1::IntakeService::Stub* intake_;
  const ClientOptions intake_client_;
  const Authenticator* auth_;
  WorkPool pool_{2};
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_SERVICE_H_
