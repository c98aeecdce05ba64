#include "common/dvcqg/config.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "common/log.h"

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

absl::Status ClientConfig::Validate() const {
  if (!absl::StartsWith(base_url, "http://") && !absl::StartsWith(base_url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dvcqg_url: expected http(s)://host:port, got '", base_url, "'"));
  }
  if (credentials.username.empty() || credentials.password.empty()) {
    return absl::InvalidArgumentError(
        "DVCQG credentials missing: --dvcqg_credentials_file or DOSSIERSYNC_DVCQG_USERNAME and "
        "DOSSIERSYNC_DVCQG_PASSWORD");
  }
  if (login_path.empty() || login_path[0] != '/' || service_path.empty() ||
      service_path[0] != '/') {
    return absl::InvalidArgumentError(
        "--dvcqg_login_path and --dvcqg_service_path must start with /");
  }
  if (batch_size < 1 || batch_size > 1000) {
    return absl::InvalidArgumentError("--dvcqg_batch_size must be 1-1000");
  }
  if (progress_chunk < 1 || progress_chunk > 1000) {
    return absl::InvalidArgumentError("--dvcqg_progress_chunk must be 1-1000");
  }
  if (connect_timeout <= absl::ZeroDuration() || read_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("DVCQG timeouts must be positive");
  }
  if (session_ttl < absl::Seconds(40)) {
    return absl::InvalidArgumentError("--dvcqg_session_ttl must be at least 40s");
  }
  if (limits.enterprise_id_kind.empty() || limits.enterprise_id_kind == "1" ||
      limits.enterprise_id_kind == "2") {
    return absl::InvalidArgumentError(
        "--dvcqg_enterprise_id_kind must be set and differ from 1 (CCCD) and 2 (CMND)");
  }
  if (max_connections < 1)
    return absl::InvalidArgumentError("--dvcqg_max_connections must be >= 1");
  return absl::OkStatus();
}

nlohmann::json ClientConfig::ToJson() const {
  return {{"base_url", MaskUri(base_url)},
          {"login_path", login_path},
          {"service_path", service_path},
          {"username", credentials.username},
          {"password", MaskSecret(credentials.password)},
          {"agency_code", agency_code},
          {"dstcode", dstcode},
          {"ca_file", ca_file},
          {"connect_timeout", absl::FormatDuration(connect_timeout)},
          {"read_timeout", absl::FormatDuration(read_timeout)},
          {"session_ttl", absl::FormatDuration(session_ttl)},
          {"batch_size", batch_size},
          {"progress_chunk", progress_chunk},
          {"max_connections", max_connections},
          {"success_message", success_message},
          {"enterprise_id_kind", limits.enterprise_id_kind}};
}

absl::StatusOr<Credentials> ReadCredentialsFile(const std::string& path) {
  auto text = ReadSecretFile(path, "--dvcqg_credentials_file");
  if (!text.ok()) return text.status();
  Credentials c;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    std::string key(absl::StripAsciiWhitespace(kv.first));
    if (key == "username") {
      c.username = std::string(absl::StripAsciiWhitespace(kv.second));
    } else if (key == "password") {
      c.password = kv.second;  // kept as written: passwords may have spaces
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown key '", key, "' (expected username= and password=)"));
    }
  }
  if (c.username.empty() || c.password.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": needs username= and password= lines"));
  }
  return c;
}

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
