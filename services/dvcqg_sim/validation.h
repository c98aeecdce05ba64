// What the simulated DVCQG accepts (reference/dvcqg.md §4-§7, the [assumed] rules included):
// mandatory fields, strings only, yyyyMMddHHmmss dates, code tables, dates required by status and
// text limits, the scored flags ("0"/"1"; DuocThanhToanTrucTuyen "0"-"3"), identity documents
// (DinhDanhCHS kind and number) and supplement dates. A violation is error_code "2" with a message
// naming the field.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_SERVICES_DVCQG_SIM_VALIDATION_H_
#define DOSSIERSYNC_SERVICES_DVCQG_SIM_VALIDATION_H_

#include <optional>
#include <string>

#include "nlohmann/json.hpp"

namespace dossiersync::sim {

struct Violation {
  std::string field;
  std::string message;
};

// `enterprise_kind`: the LoaiDinhDanh of an enterprise / tax code (configurable, "3").
std::optional<Violation> ValidateDossierItem(const nlohmann::json& item,
                                             const std::string& enterprise_kind = "3");
std::optional<Violation> ValidateProgressItem(const nlohmann::json& item);
// {agency ddd.dd.dd.Hdd}-{yyMMdd}-{4+ digits}.
bool ValidDossierCode(const std::string& code);

}  // namespace dossiersync::sim

#endif  // DOSSIERSYNC_SERVICES_DVCQG_SIM_VALIDATION_H_
