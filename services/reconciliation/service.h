// dossiersync.v1.ReconciliationService (operator token): StartRun, GetRun, ListDrift, GetKpis,
// GetScore, GetDossierTimeline (timeline.h). KPIs' in-sync share and the score come from each
// dossier's latest evidence (national_view.h), not from the last run. Methods are raw (ByteBuffer)
// so that malformed bytes get INVALID_ARGUMENT naming the request type (common/raw_messages.h).
//
// Thread safety: thread-safe; blocking work runs on a small pool, never in a reaction.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_SERVICE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/grpc_client.h"
#include "common/raw_messages.h"
#include "common/work_pool.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/reconciliation/kpi_follower.h"
#include "services/reconciliation/kpi_store.h"
#include "services/reconciliation/run_store.h"
#include "services/reconciliation/runner.h"
#include "services/reconciliation/timeline.h"

namespace dossiersync::reconciliation {

using ReconciliationRawService =
    dossiersync::v1::ReconciliationService::WithRawCallbackMethod_StartRun<
        dossiersync::v1::ReconciliationService::WithRawCallbackMethod_GetRun<
            dossiersync::v1::ReconciliationService::WithRawCallbackMethod_ListDrift<
                dossiersync::v1::ReconciliationService::WithRawCallbackMethod_GetKpis<
                    dossiersync::v1::ReconciliationService::WithRawCallbackMethod_GetScore<
                        dossiersync::v1::ReconciliationService::
                            WithRawCallbackMethod_GetDossierTimeline<
                                dossiersync::v1::ReconciliationService::
                                    WithRawCallbackMethod_ListRuns<
                                        dossiersync::v1::ReconciliationService::Service>>>>>>>;

class ServiceImpl final : public ReconciliationRawService {
 public:
  ServiceImpl(Runner* runner, RunStore* store, KpiStore* kpis, KpiFollower* kpi_follower,
              dossiersync::v1::IntakeService::Stub* intake, ClientOptions intake_client,
              const Authenticator* auth, TimelineBuilder* timeline,
              prometheus::Registry* registry = nullptr)
      : runner_(runner),
        store_(store),
        kpis_(kpis),
        kpi_follower_(kpi_follower),
        intake_(intake),
        intake_client_(std::move(intake_client)),
        auth_(auth),
        timeline_(timeline) {
    if (registry != nullptr) RegisterScoreGauges(*registry);
  }

  grpc::ServerUnaryReactor* StartRun(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                     grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                   grpc::ByteBuffer* resp) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* ListDrift(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* req) override;
  grpc::ServerUnaryReactor* GetKpis(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                    grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetScore(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                     grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                     grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetDossierTimeline(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* req,
                                               grpc::ByteBuffer* resp) override;

  // Computes the province-wide score of `period` (GetScoreRequest.period: "" is this month) and
  // sets the score gauges from it (the dashboard's panel); run by the app every --score_every.
  absl::Status RefreshScore(const std::string& period);

  RunStore* store() { return store_; }
  WorkPool* pool() { return &pool_; }
  const Authenticator* auth() { return auth_; }

 private:
  // Authenticates as operator and parses the request (see RawUnaryCall::Begin).
  template <typename Req, typename Resp>
  std::shared_ptr<RawUnaryCall<Req, Resp>> Begin(grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) {
    return RawUnaryCall<Req, Resp>::Begin(ctx, in, out,
                                          auth_->Authenticate(*ctx, Role::kOperator).status());
  }
  // The KPIs of `req`'s window and agency (see GetKpis) from the maintained figures, after
  // catching up with intake (when intake cannot answer, from what was read before);
  // INVALID_ARGUMENT for an empty window, UNAVAILABLE when the database cannot answer.
  absl::Status ComputeKpis(const dossiersync::v1::GetKpisRequest& req, dossiersync::v1::Kpis* resp);
  // The score of `req`'s period and agency; INVALID_ARGUMENT for a malformed period.
  absl::Status ComputeScore(const dossiersync::v1::GetScoreRequest& req,
                            dossiersync::v1::Score* resp);
  // Streams the provincial dossiers of `agency` from intake into `each`.
  absl::Status ForEachProvincial(const std::string& agency,
                                 const std::function<void(dossiersync::v1::Dossier&)>& each);
  void RegisterScoreGauges(prometheus::Registry& registry);
  Runner* runner_;
  RunStore* store_;
  // dossiersync_reconciliation_score_points{view="provincial"|"national"} and
  // dossiersync_reconciliation_score_points_at_stake; families null without a registry, series
  // added by the first RefreshScore that succeeds.
  prometheus::Family<prometheus::Gauge>* score_points_ = nullptr;
  prometheus::Family<prometheus::Gauge>* score_at_stake_family_ = nullptr;
  absl::Mutex score_mu_;
  prometheus::Gauge* score_provincial_ ABSL_GUARDED_BY(score_mu_) = nullptr;
  prometheus::Gauge* score_national_ ABSL_GUARDED_BY(score_mu_) = nullptr;
  prometheus::Gauge* score_at_stake_ ABSL_GUARDED_BY(score_mu_) = nullptr;
  KpiStore* kpis_;
  KpiFollower* kpi_follower_;
  dossiersync::v1::IntakeService::Stub* intake_;
  const ClientOptions intake_client_;
  const Authenticator* auth_;
  TimelineBuilder* timeline_;
  WorkPool pool_{2};
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_SERVICE_H_
