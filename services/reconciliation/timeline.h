// One dossier's story (GetDossierTimeline, SPEC §8), assembled where every part of it can be read:
//   - intake (GetDossierHistory with its publications): each revision accepted and where it went
//     on Kafka (partition and offset, while intake's published log retains it);
//   - the sync's results as the reconciliation consumed them (timeline_store.h): each push, the
//     DVCQG service it called and DVCQG's answer, retries and dead letters;
//   - the reconciliation's own runs: drift found in the dossier and repairs requested, and its
//     latest check;
//   - DVCQG now (one TraCuuHoSo): the national snapshot beside the provincial one, field by field
//     as DVCQG receives them, with the differences marked and classified as a run would.
// A part that cannot be read (intake away, DVCQG refusing) is named in `unavailable` and the rest
// is still answered; when the lookup fails the latest check's snapshot stands in for DVCQG's.
//
// Thread safety: thread-safe (the store, the DVCQG client and the stub are).
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_TIMELINE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_TIMELINE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/dvcqg/client.h"
#include "common/dvcqg/status_map.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.pb.h"
#include "services/reconciliation/timeline_store.h"

namespace dossiersync::reconciliation {

class TimelineBuilder {
 public:
  TimelineBuilder(TimelineStore* store, dvcqg::Client* dvcqg,
                  dossiersync::v1::IntakeService::Stub* intake, ClientOptions intake_client,
                  dvcqg::StatusMap status_map)
      : store_(store),
        dvcqg_(dvcqg),
        intake_(intake),
        intake_client_(std::move(intake_client)),
        status_map_(status_map) {}

  // INVALID_ARGUMENT (field `code`) for an empty or over-long code; NOT_FOUND (reason
  // DOSSIER_NOT_FOUND) when nothing anywhere knows the code; UNAVAILABLE when the
  // reconciliation's own database cannot answer.
  absl::StatusOr<dossiersync::v1::DossierTimeline> Build(
      const dossiersync::v1::GetDossierTimelineRequest& req);

 private:
  // Intake's part: the current snapshot (with steps), the revisions and their publications.
  void AddProvincial(const std::string& code, dossiersync::v1::DossierTimeline* out,
                     std::vector<dossiersync::v1::Dossier>* history);
  // DVCQG's part: the national snapshot (live, else the latest check's), the fields side by side
  // and the differences.
  void AddNational(const std::string& code, bool lookup, const std::optional<DossierCheck>& check,
                   const std::vector<dossiersync::v1::Dossier>& history,
                   dossiersync::v1::DossierTimeline* out);

  TimelineStore* store_;
  dvcqg::Client* dvcqg_;
  dossiersync::v1::IntakeService::Stub* intake_;
  const ClientOptions intake_client_;
  const dvcqg::StatusMap status_map_;
};

// The fields DVCQG receives, provincial (after the status mapping) beside national, `differs`
// set where they are not equal; the last row counts the progress steps.
std::vector<dossiersync::v1::SnapshotField> SideBySide(const dossiersync::v1::Dossier& provincial,
                                                       const dossiersync::v1::Dossier* national,
                                                       const dvcqg::StatusMap& status_map);

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_TIMELINE_H_
