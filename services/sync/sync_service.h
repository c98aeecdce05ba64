// dossiersync.v1.SyncService: the sync's state and control, for operators (operator token).
// Methods are raw (ByteBuffer) so that malformed bytes get INVALID_ARGUMENT naming the request
// type (common/raw_messages.h) instead of gRPC's bare UNIMPLEMENTED.
//
// Thread safety: thread-safe; unary handlers do their (short) work on a small pool.
#ifndef DOSSIERSYNC_SERVICES_SYNC_SYNC_SERVICE_H_
#define DOSSIERSYNC_SERVICES_SYNC_SYNC_SERVICE_H_

#include "common/auth.h"
#include "common/kafka.h"
#include "common/raw_messages.h"
#include "common/work_pool.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "services/sync/engine.h"
#include "services/sync/ledger.h"

namespace dossiersync::sync {

using SyncRawService = dossiersync::v1::SyncService::WithRawCallbackMethod_GetSyncState<
    dossiersync::v1::SyncService::WithRawCallbackMethod_Resync<
        dossiersync::v1::SyncService::WithRawCallbackMethod_Pause<
            dossiersync::v1::SyncService::WithRawCallbackMethod_Resume<
                dossiersync::v1::SyncService::WithRawCallbackMethod_ReplayDeadLetters<
                    dossiersync::v1::SyncService::WithRawCallbackMethod_ListDeadLetters<
                        dossiersync::v1::SyncService::WithRawCallbackMethod_GetStatus<
                            dossiersync::v1::SyncService::Service>>>>>>>;

class SyncServiceImpl final : public SyncRawService {
 public:
  SyncServiceImpl(Engine* engine, Ledger* ledger, KafkaProducer* producer,
                  const Authenticator* auth)
      : engine_(engine), ledger_(ledger), producer_(producer), auth_(auth) {}

  grpc::ServerUnaryReactor* GetSyncState(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* Resync(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                   grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* Pause(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                  grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* Resume(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                   grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ReplayDeadLetters(grpc::CallbackServerContext* ctx,
                                              const grpc::ByteBuffer* req,
                                              grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* ctx,
                                            const grpc::ByteBuffer* req,
                                            grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                      grpc::ByteBuffer* resp) override;

 private:
  // Authenticates as operator and parses the request (see RawUnaryCall::Begin).
  template <typename Req, typename Resp>
  std::shared_ptr<RawUnaryCall<Req, Resp>> Begin(grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) {
    return RawUnaryCall<Req, Resp>::Begin(ctx, in, out,
                                          auth_->Authenticate(*ctx, Role::kOperator).status());
  }

  Engine* engine_;
  Ledger* ledger_;
  KafkaProducer* producer_;
  const Authenticator* auth_;
  WorkPool pool_{2};
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_SYNC_SERVICE_H_
