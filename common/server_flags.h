// The flags every service binary shares: --allow_insecure, --tls_cert_file, --tls_key_file,
// --tls_client_ca_file, --auth_tokens_file, --log_level. Defined in server_flags.cc, in the
// ds_server_flags library that only binaries link: libraries and tests take typed options.
//
// Thread safety: call at start, from main.
#ifndef DOSSIERSYNC_COMMON_SERVER_FLAGS_H_
#define DOSSIERSYNC_COMMON_SERVER_FLAGS_H_

#include <string>

#include "common/server.h"

namespace dossiersync {

// Reads the shared server flags (listen is per service and passed in).
ServerOptions ServerOptionsFromFlags(const std::string& listen);
// Names the service in its log lines, routes gRPC's and protobuf's own lines through the JSON
// logger and applies --log_level (exit 2 on a bad value).
void ApplyLogFlags(const std::string& service);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_SERVER_FLAGS_H_
