// Raw gRPC methods: services that take ByteBuffers parse requests themselves, so malformed bytes
// get INVALID_ARGUMENT naming the expected type (gRPC's typed callback handlers answer a parse
// failure with a bare UNIMPLEMENTED), and a bad item in a stream gets its own error.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_COMMON_RAW_MESSAGES_H_
#define DOSSIERSYNC_COMMON_RAW_MESSAGES_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/ids.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "grpcpp/support/server_callback.h"

namespace dossiersync {

inline absl::Status ParseRaw(const grpc::ByteBuffer& in, google::protobuf::Message* out) {
  grpc::ByteBuffer copy(in);  // shares the slices; the reader consumes its own handle
  grpc::ProtoBufferReader reader(&copy);
  if (!out->ParseFromZeroCopyStream(&reader)) {
    return FieldError("request", absl::StrCat("bytes are not a valid ", out->GetTypeName()));
  }
  return absl::OkStatus();
}

// A client metadata value of the call ("" when absent).
inline std::string ClientMetadata(const grpc::ServerContextBase* ctx, const char* key) {
  auto it = ctx->client_metadata().find(key);
  return it == ctx->client_metadata().end() ? ""
                                            : std::string(it->second.data(), it->second.size());
}

inline void SerializeRaw(const google::protobuf::Message& msg, grpc::ByteBuffer* out) {
  out->Clear();
  bool own = false;
  (void)grpc::SerializationTraits<google::protobuf::Message>::Serialize(msg, out, &own);
}

// One unary call on a raw method: owns the parsed request and the response, and serialises the
// response into gRPC's buffer when it finishes OK. Handlers and the work they post share it.
//
// Thread safety: Finish is called exactly once, from any thread; nothing else is shared.
template <typename Req, typename Resp>
class RawUnaryCall {
 public:
  // Takes the call's reactor. When `admitted` is not OK (authentication) the call finishes with
  // it; when the bytes are malformed it finishes with INVALID_ARGUMENT naming Req. Either way
  // `started()` is false and the handler returns `reactor()` at once.
  static std::shared_ptr<RawUnaryCall> Begin(grpc::CallbackServerContext* ctx,
                                             const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                                             const absl::Status& admitted) {
    auto call = std::shared_ptr<RawUnaryCall>(new RawUnaryCall(ctx->DefaultReactor(), out));
    call->traceparent_ = ChildTraceparent(ClientMetadata(ctx, "traceparent"));
    absl::Status st = admitted.ok() ? ParseRaw(*in, &call->req_) : admitted;
    if (!st.ok()) {
      call->reactor_->Finish(ToGrpcStatus(st));
      call->started_ = false;
    }
    return call;
  }

  bool started() const { return started_; }
  const Req& req() const { return req_; }
  Resp* resp() { return &resp_; }
  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  // This call's span: a child of the caller's traceparent (or a new trace).
  const std::string& traceparent() const { return traceparent_; }

  void Finish(const absl::Status& st) {
    if (st.ok()) SerializeRaw(resp_, out_);
    reactor_->Finish(st.ok() ? grpc::Status::OK : ToGrpcStatus(st));
  }

 private:
  RawUnaryCall(grpc::ServerUnaryReactor* reactor, grpc::ByteBuffer* out)
      : reactor_(reactor), out_(out) {}
  grpc::ServerUnaryReactor* const reactor_;
  grpc::ByteBuffer* const out_;
  bool started_ = true;
  std::string traceparent_;
  Req req_;
  Resp resp_;
};

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_RAW_MESSAGES_H_
