// The --dvcqg_* flags, defined here and linked only into binaries (ds_dvcqg_flags).
#include "common/dvcqg/config_flags.h"

#include <cstdlib>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, dvcqg_url, "",
          "DVCQG base URL http(s)://host:port (the simulator: http://127.0.0.1:8580)");
ABSL_FLAG(std::string, dvcqg_credentials_file, "",
          "File with `username=` and `password=` lines; else DOSSIERSYNC_DVCQG_USERNAME/_PASSWORD");
ABSL_FLAG(std::string, dvcqg_agency_code, "000.00.00.H37", "madonvi: the province's agency code");
ABSL_FLAG(std::string, dvcqg_login_path, "/mapi/login", "DVCQG login path");
ABSL_FLAG(std::string, dvcqg_service_path, "/mapi/g", "DVCQG integration path");
ABSL_FLAG(absl::Duration, dvcqg_connect_timeout, absl::Seconds(3), "DVCQG connect timeout");
ABSL_FLAG(absl::Duration, dvcqg_read_timeout, absl::Seconds(6), "DVCQG read timeout");
ABSL_FLAG(absl::Duration, dvcqg_session_ttl, absl::Minutes(10), "DVCQG session lifetime");
ABSL_FLAG(int, dvcqg_batch_size, 50, "Dossiers per DongBoHoSoMC call");
ABSL_FLAG(int, dvcqg_progress_chunk, 10, "Rows per CapNhatTienDoHoSoMC call");
ABSL_FLAG(std::string, dvcqg_dstcode, "", "Value of the dstcode header (empty: not sent)");
ABSL_FLAG(std::string, dvcqg_ca_file, "", "CA bundle to verify DVCQG over HTTPS");
ABSL_FLAG(int, dvcqg_max_connections, 16, "Keep-alive connections to DVCQG");
ABSL_FLAG(std::string, dvcqg_success_message, "",
          "Text a success answer's message must also contain, ignoring case (e.g. \"thành công\"); "
          "empty: the success code (0, \"0\", \"00\") alone decides");
ABSL_FLAG(std::string, dvcqg_enterprise_id_kind, "3",
          "LoaiDinhDanh sent for an enterprise / tax code (unknown nationally)");

namespace dossiersync::dvcqg {

absl::StatusOr<ClientConfig> ClientConfigFromFlags() {
  ClientConfig c;
  c.base_url = absl::GetFlag(FLAGS_dvcqg_url);
  c.agency_code = absl::GetFlag(FLAGS_dvcqg_agency_code);
  c.login_path = absl::GetFlag(FLAGS_dvcqg_login_path);
  c.service_path = absl::GetFlag(FLAGS_dvcqg_service_path);
  c.connect_timeout = absl::GetFlag(FLAGS_dvcqg_connect_timeout);
  c.read_timeout = absl::GetFlag(FLAGS_dvcqg_read_timeout);
  c.session_ttl = absl::GetFlag(FLAGS_dvcqg_session_ttl);
  c.batch_size = absl::GetFlag(FLAGS_dvcqg_batch_size);
  c.progress_chunk = absl::GetFlag(FLAGS_dvcqg_progress_chunk);
  c.dstcode = absl::GetFlag(FLAGS_dvcqg_dstcode);
  c.ca_file = absl::GetFlag(FLAGS_dvcqg_ca_file);
  c.max_connections = absl::GetFlag(FLAGS_dvcqg_max_connections);
  c.success_message = absl::GetFlag(FLAGS_dvcqg_success_message);
  c.limits.enterprise_id_kind = absl::GetFlag(FLAGS_dvcqg_enterprise_id_kind);
  std::string file = absl::GetFlag(FLAGS_dvcqg_credentials_file);
  if (!file.empty()) {
    auto creds = ReadCredentialsFile(file);
    if (!creds.ok()) return creds.status();
    c.credentials = *creds;
  } else {
    const char* u = std::getenv("DOSSIERSYNC_DVCQG_USERNAME");
    const char* p = std::getenv("DOSSIERSYNC_DVCQG_PASSWORD");
    c.credentials.username = u ? u : "";
    c.credentials.password = p ? p : "";
  }
  if (auto st = c.Validate(); !st.ok()) return st;
  return c;
}

}  // namespace dossiersync::dvcqg
