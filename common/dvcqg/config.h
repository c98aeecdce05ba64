// DVCQG client configuration, with the national values marked [assumed] in reference/dvcqg.md kept
// here rather than in code. Flags (shared by every binary that talks to DVCQG): --dvcqg_url,
// --dvcqg_credentials_file, --dvcqg_agency_code, --dvcqg_login_path, --dvcqg_service_path,
// --dvcqg_connect_timeout, --dvcqg_read_timeout, --dvcqg_session_ttl, --dvcqg_batch_size,
// --dvcqg_progress_chunk, --dvcqg_dstcode, --dvcqg_ca_file, --dvcqg_max_connections.
// Credentials: the file (lines `username=...` and `password=...`), else the environment
// DOSSIERSYNC_DVCQG_USERNAME / DOSSIERSYNC_DVCQG_PASSWORD. Never logged.
//
// Thread safety: plain values.
#ifndef DOSSIERSYNC_COMMON_DVCQG_CONFIG_H_
#define DOSSIERSYNC_COMMON_DVCQG_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/dvcqg/mapping.h"
#include "nlohmann/json.hpp"

namespace dossiersync::dvcqg {

struct Credentials {
  std::string username;
  std::string password;
};

struct ClientConfig {
  std::string base_url;                    // http(s)://host:port (the "ADAPTER_URL")
  std::string login_path = "/mapi/login";  // [assumed]
  std::string service_path = "/mapi/g";    // [assumed]
  Credentials credentials;
  std::string agency_code = "000.00.00.H37";  // madonvi: the province's code
  std::string dstcode;                        // optional `dstcode` header (OpenCPS sent one)
  std::string ca_file;                        // HTTPS: CA bundle to verify DVCQG
  absl::Duration connect_timeout = absl::Seconds(3);
  absl::Duration read_timeout = absl::Seconds(6);  // [seen] in clients
  absl::Duration session_ttl = absl::Minutes(10);  // [assumed]; refreshed 30 s early
  int batch_size = 50;                             // DongBoHoSoMC items per call [assumed]
  int progress_chunk = 10;                         // CapNhatTienDoHoSoMC rows per call [assumed]
  int max_connections = 16;
  // When set, a success code also needs this text in the answer's message (one production client
  // required "thành công"); compared ignoring case. Empty: the code alone decides.
  std::string success_message;
  MappingOptions limits;

  absl::Status Validate() const;
  nlohmann::json ToJson() const;  // password masked
};

// `username=` / `password=` lines; blank lines and `#` comments ignored.
absl::StatusOr<Credentials> ReadCredentialsFile(const std::string& path);

}  // namespace dossiersync::dvcqg

#endif  // DOSSIERSYNC_COMMON_DVCQG_CONFIG_H_
