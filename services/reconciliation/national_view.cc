#include "services/reconciliation/national_view.h"

namespace dossiersync::reconciliation {

NationalView NationalViewOf(const dossiersync::v1::Dossier& provincial, const DossierEvidence* e) {
  NationalView v;
  if (e == nullptr) return v;
  const bool accepted_now = e->last_sync_accepted &&
                            e->last_sync_revision >= provincial.revision() &&
                            (!e->check || e->last_sync_at > e->check->checked_at);
  if (accepted_now) return {true, true, &provincial};
  if (e->check) {
    const DossierCheck& c = *e->check;
    v.known = true;
    v.in_sync = c.in_sync && c.revision >= provincial.revision();
    if (c.in_sync) {
      v.snapshot = &provincial;
    } else if (c.national) {
      v.snapshot = &*c.national;
    }
    return v;
  }
  if (e->last_sync_accepted) return {true, false, &provincial};
  return v;
}

}  // namespace dossiersync::reconciliation
