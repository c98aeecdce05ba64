#include "services/reconciliation/national_view.h"

namespace dossiersync::reconciliation {
namespace {

// The sync accepted this revision (or a later one) after the latest check.
bool AcceptedNow(int64_t revision, const DossierEvidence& e) {
  return e.last_sync_accepted && e.last_sync_revision >= revision &&
         (!e.check || e.last_sync_at > e.check->checked_at);
}

}  // namespace

SyncFlags SyncFlagsOf(int64_t revision, const DossierEvidence* e) {
  if (e == nullptr) return {};
  if (AcceptedNow(revision, *e)) return {true, true};
  if (e->check) return {true, e->check->in_sync && e->check->revision >= revision};
  if (e->last_sync_accepted) return {true, false};
  return {};
}

NationalView NationalViewOf(const dossiersync::v1::Dossier& provincial, const DossierEvidence* e) {
  const SyncFlags f = SyncFlagsOf(provincial.revision(), e);
  NationalView v{f.known, f.in_sync, nullptr};
  if (!f.known) return v;
  if (e->check && !AcceptedNow(provincial.revision(), *e)) {
    const DossierCheck& c = *e->check;
    if (c.in_sync) {
      v.snapshot = &provincial;
    } else if (c.national) {
      v.snapshot = &*c.national;
    }
    return v;
  }
  v.snapshot = &provincial;
  return v;
}

}  // namespace dossiersync::reconciliation
