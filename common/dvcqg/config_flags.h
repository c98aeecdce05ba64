// The --dvcqg_* flags (URL, credentials file or DOSSIERSYNC_DVCQG_USERNAME/_PASSWORD, timeouts,
// batch sizes, success message, ...) read into a ClientConfig. Defined in config_flags.cc, in the
// ds_dvcqg_flags library that only binaries link.
//
// Thread safety: call at start, from main.
#ifndef DOSSIERSYNC_COMMON_DVCQG_CONFIG_FLAGS_H_
#define DOSSIERSYNC_COMMON_DVCQG_CONFIG_FLAGS_H_

#include "absl/status/statusor.h"
#include "common/dvcqg/config.h"

namespace dossiersync::dvcqg {

// The client configuration from the flags, validated.
absl::StatusOr<ClientConfig> ClientConfigFromFlags();

}  // namespace dossiersync::dvcqg

#endif  // DOSSIERSYNC_COMMON_DVCQG_CONFIG_FLAGS_H_
