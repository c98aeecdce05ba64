// Validation of SubmitChange requests (SPEC §4): every rule that can be checked without the
// stored state. A request that breaks rules gets one INVALID_ARGUMENT listing every violation
// (field and rule) in its google.rpc.BadRequest (FieldViolations), so a portal backend fixes its
// data in one round trip.
//
// Thread safety: pure functions of their arguments.
#ifndef DOSSIERSYNC_SERVICES_INTAKE_VALIDATOR_H_
#define DOSSIERSYNC_SERVICES_INTAKE_VALIDATOR_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dossiersync/v1/intake.pb.h"

namespace dossiersync::intake {

struct ValidatorConfig {
  std::string province_code = "H37";  // agency part of every dossier code must end with it
  // The code's agency part must equal the dossier's agency_code (off for inter-agency setups
  // where one agency registers dossiers another processes).
  bool code_agency_must_match = true;
  absl::Duration max_future_skew = absl::Minutes(5);
  size_t max_request_bytes = 4 * 1024 * 1024;
  // DVCQG text limits in characters (reference/dvcqg.md §4).
  int max_summary_chars = 1000;          // TrichYeuHoSo
  int max_officer_chars = 50;            // NguoiXuLy
  int max_result_doc_name_chars = 2000;  // TenGiayTo
  int max_attachment_name_chars = 4000;  // TenTepDinhKem
  int max_text_chars = 2000;             // any other text (a 2,000+ note broke DongBoHoSoMC)
  int max_new_steps = 1000;              // progress steps in one change

  absl::Status Validate() const;
};

// The stateless rules. `now` bounds the future skew.
absl::Status ValidateRequest(const dossiersync::v1::SubmitChangeRequest& req,
                             const ValidatorConfig& config, absl::Time now);

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_VALIDATOR_H_
