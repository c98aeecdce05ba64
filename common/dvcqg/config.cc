#include "common/dvcqg/config.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/flags.h"
#include "common/log.h"

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

}  // namespace dossiersync::dvcqg
