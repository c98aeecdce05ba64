#include "services/reconciliation/kpi_follower.h"

#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace dossiersync::reconciliation {
namespace {

constexpr size_t kBatch = 1000;

}  // namespace

absl::Status KpiFollower::CatchUp() {
  absl::MutexLock lock(&mu_);
  return CatchUpLocked();
}

absl::Status KpiFollower::CatchUpLocked() {
  auto cursor = store_->Cursor();
  if (!cursor.ok()) return absl::UnavailableError(cursor.status().message());
  auto ctx = MakeContext(client_, absl::Minutes(30));
  dossiersync::v1::ListDossiersRequest req;
  if (*cursor > 0) req.set_page_token(std::to_string(*cursor));
  {
    absl::MutexLock lock(&call_mu_);
    if (stop_.HasBeenNotified()) return absl::CancelledError("stopping");
    call_ = ctx.get();
  }
  absl::Cleanup forget = [this] {
    absl::MutexLock lock(&call_mu_);
    call_ = nullptr;
  };
  auto reader = intake_->ListDossiers(ctx.get(), req);
  std::vector<dossiersync::v1::Dossier> batch;
  batch.reserve(kBatch);
  absl::Status applied;
  auto flush = [&] {
    if (batch.empty() || !applied.ok()) return;
    applied = store_->ApplyProvincial(batch, batch.back().change_seq());
    batch.clear();
  };
  dossiersync::v1::Dossier d;
  while (applied.ok() && reader->Read(&d)) {
    batch.push_back(std::move(d));
    if (batch.size() == kBatch) flush();
  }
  flush();
  if (!applied.ok()) {
    ctx->TryCancel();
    reader->Finish();
    return absl::UnavailableError(absl::StrCat("KPI rows: ", applied.message()));
  }
  grpc::Status st = reader->Finish();
  if (!st.ok())
    return absl::UnavailableError(absl::StrCat("intake ListDossiers: ", st.error_message()));
  return absl::OkStatus();
}

void KpiFollower::Start(absl::Duration every) {
  thread_ = std::thread([this, every] {
    do {
      if (absl::Status st = CatchUp(); !st.ok()) {
        LogWarn("KPI follower could not catch up; retrying",
                {{"error", std::string(st.message())}});
      }
    } while (!stop_.WaitForNotificationWithTimeout(every));
  });
}

void KpiFollower::Stop() {
  {
    absl::MutexLock lock(&call_mu_);
    if (!stop_.HasBeenNotified()) stop_.Notify();
    if (call_ != nullptr) call_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace dossiersync::reconciliation
