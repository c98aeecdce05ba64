// The national service-quality score forecast (SPEC §7, reference/dvcqg.md §9): the indicators of
// QĐ 766/QĐ-TTg that come from synced dossier data, computed over one period twice, from the
// provincial truth and from what DVCQG holds by the latest evidence; the difference is what the
// sync gap costs, with the dossiers behind it.
//
// Indicators (each: numerator, denominator, ratio, points = max × min(1, ratio / full_at); a zero
// denominator scores full points, nothing having failed it). A dossier is in the period when its
// NgayTiepNhan (received_at) is.
//   1.4      dossiers synced ÷ max(received provincially, received nationally)
//   2.1      on time: the end of processing (9 > 10 > 8/3, else the evaluation time) minus the
//            first supplement request's time ≤ NgayHenTra (absent: received + the procedure's
//            maximum duration); a second supplement request is overdue; withdrawn excluded
//   3.3      KenhThucHien = 2 (and a result file for procedures with a paper result), × 1.4's ratio
//   3.5/3.6  dossiers with a non-zero fee paid through DVCQG's platform (1) or the province's (2)
//   4.1      processed or returned dossiers with a result file link
//   4.2      HoSoCoThanhPhanSoHoa = 1
//   4.3      dossiers with attachments, every one digitised (DuocSoHoa = 1)
//   4.4      an attachment taken from the national data warehouse (DuocLayTuKhoDMQG = 1)
//   4.5      VNeID-verified account, or a warehouse attachment, or the population database in
//            DSKetNoiCSDL
// The formula's maxima, thresholds and codes are configuration (config/score_formula.json,
// versioned, naming its source), because the national side changes them by decision.
//
// Thread safety: pure functions; ScoreFormula is a plain value.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_SCORE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_SCORE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dossiersync/v1/dossier.pb.h"
#include "dossiersync/v1/reconciliation.pb.h"

namespace dossiersync::reconciliation {

struct ScoreFormula {
  struct Indicator {
    std::string id;
    std::string name;
    double max_points = 0;
    double full_at = 1.0;  // the ratio that earns full points
  };
  std::string version;
  std::string source;
  int default_max_duration_days = 15;  // when a dossier has no NgayHenTra
  std::string population_database = "CSDLQGDC";
  std::set<std::string> paper_result_procedures;
  std::vector<Indicator> indicators;  // exactly the ids of kScoreIndicators, in that order

  // Parses and validates the JSON configuration; errors name the key.
  static absl::StatusOr<ScoreFormula> FromJson(const std::string& text);
  // The committed config/score_formula.json (compiled in).
  static const ScoreFormula& Default();
};

inline constexpr const char* kScoreIndicators[] = {"1.4", "2.1", "3.3", "3.5/3.6", "4.1",
                                                   "4.2", "4.3", "4.4", "4.5"};

struct ScorePeriod {
  std::string label;
  absl::Time from;
  absl::Time until;
  absl::Time evaluated_at;  // the end of processing of dossiers not yet finished: min(until, now)
};
// "2024-07", "2024-Q3", "2024" in Asia/Ho_Chi_Minh; "" is the month of `now`.
absl::StatusOr<ScorePeriod> ParsePeriod(const std::string& period, absl::Time now);

// One dossier: its provincial snapshot and DVCQG's (nullptr: absent nationally or unknown).
struct ScoredDossier {
  const dossiersync::v1::Dossier* provincial = nullptr;
  const dossiersync::v1::Dossier* national = nullptr;
  bool known = true;  // false: nothing known of it nationally (counted in without_evidence)
};

// The score of one set of dossiers (an agency, or the province).
dossiersync::v1::AgencyScore ComputeScore(const std::vector<ScoredDossier>& dossiers,
                                          const ScorePeriod& period, const ScoreFormula& formula,
                                          int max_codes);

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_SCORE_H_
