// Raw gRPC methods: services that take ByteBuffers parse requests themselves, so malformed bytes
// get INVALID_ARGUMENT naming the expected type (gRPC's typed callback handlers answer a parse
// failure with a bare UNIMPLEMENTED), and a bad item in a stream gets its own error.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_COMMON_RAW_MESSAGES_H_
#define DOSSIERSYNC_COMMON_RAW_MESSAGES_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"

namespace dossiersync {

inline absl::Status ParseRaw(const grpc::ByteBuffer& in, google::protobuf::Message* out) {
  grpc::ByteBuffer copy(in);  // shares the slices; the reader consumes its own handle
  grpc::ProtoBufferReader reader(&copy);
  if (!out->ParseFromZeroCopyStream(&reader)) {
    return FieldError("request", absl::StrCat("bytes are not a valid ", out->GetTypeName()));
  }
  return absl::OkStatus();
}

inline void SerializeRaw(const google::protobuf::Message& msg, grpc::ByteBuffer* out) {
  out->Clear();
  bool own = false;
  (void)grpc::SerializationTraits<google::protobuf::Message>::Serialize(msg, out, &own);
}

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_RAW_MESSAGES_H_
