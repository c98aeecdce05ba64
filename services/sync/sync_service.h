// dossiersync.v1.SyncService: the sync's state and control, for operators (operator token).
//
// Thread safety: thread-safe; unary handlers do their (short) work on a small pool.
#ifndef DOSSIERSYNC_SERVICES_SYNC_SYNC_SERVICE_H_
#define DOSSIERSYNC_SERVICES_SYNC_SYNC_SERVICE_H_

#include "common/auth.h"
#include "common/kafka.h"
#include "common/work_pool.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "services/sync/engine.h"
#include "services/sync/ledger.h"

namespace dossiersync::sync {

class SyncServiceImpl final : public dossiersync::v1::SyncService::CallbackService {
 public:
  SyncServiceImpl(Engine* engine, Ledger* ledger, KafkaProducer* producer,
                  const Authenticator* auth)
      : engine_(engine), ledger_(ledger), producer_(producer), auth_(auth) {}

  grpc::ServerUnaryReactor* GetSyncState(grpc::CallbackServerContext* ctx,
                                         const dossiersync::v1::GetSyncStateRequest* req,
                                         dossiersync::v1::SyncState* resp) override;
  grpc::ServerUnaryReactor* Resync(grpc::CallbackServerContext* ctx,
                                   const dossiersync::v1::ResyncRequest* req,
                                   dossiersync::v1::ResyncResponse* resp) override;
  grpc::ServerUnaryReactor* Pause(grpc::CallbackServerContext* ctx,
                                  const dossiersync::v1::PauseRequest* req,
                                  dossiersync::v1::PauseResponse* resp) override;
  grpc::ServerUnaryReactor* Resume(grpc::CallbackServerContext* ctx,
                                   const dossiersync::v1::ResumeRequest* req,
                                   dossiersync::v1::ResumeResponse* resp) override;
  grpc::ServerUnaryReactor* ReplayDeadLetters(
      grpc::CallbackServerContext* ctx, const dossiersync::v1::ReplayDeadLettersRequest* req,
      dossiersync::v1::ReplayDeadLettersResponse* resp) override;

 private:
  // Authenticates as operator; on failure finishes the reactor and returns nullptr.
  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* ctx, bool* ok);

  Engine* engine_;
  Ledger* ledger_;
  KafkaProducer* producer_;
  const Authenticator* auth_;
  WorkPool pool_{2};
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_SYNC_SERVICE_H_
