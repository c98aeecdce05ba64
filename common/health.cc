#include "common/health.h"

#include "absl/time/clock.h"
#include "common/log.h"
#include "grpcpp/health_check_service_interface.h"

namespace dossiersync {

Health::Health(std::vector<std::string> service_names, Options options)
    : names_(std::move(service_names)), options_(options) {}

Health::~Health() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Health::AddCheck(std::string name, std::function<absl::Status()> check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

void Health::Start(grpc::HealthCheckServiceInterface* grpc_health) {
  {
    absl::MutexLock l(&mu_);
    grpc_ = grpc_health;
  }
  RunChecks();
  thread_ = std::thread([this] {
    absl::MutexLock l(&mu_);
    while (!stopping_) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval);
      if (stopping_) break;
      mu_.Unlock();
      RunChecks();
      mu_.Lock();
    }
  });
}

void Health::RunChecks() {
  {
    absl::MutexLock l(&mu_);
    in_round_ = true;
    round_started_ = absl::Now();
  }
  std::map<std::string, absl::Status> results;
  for (const auto& [name, check] : checks_) results[name] = check();
  absl::MutexLock l(&mu_);
  in_round_ = false;
  for (const auto& [name, st] : results) {
    auto it = results_.find(name);
    bool was_ok = it == results_.end() || it->second.ok();
    if (was_ok && !st.ok()) {
      LogWarn("health check failing", {{"check", name}, {"error", std::string(st.message())}});
    } else if (!was_ok && st.ok()) {
      LogInfo("health check passing again", {{"check", name}});
    }
  }
  results_ = std::move(results);
  Publish();
}

bool Health::ReadyLocked() const {
  if (shutting_down_) return false;
  for (const auto& [name, st] : results_) {
    if (!st.ok()) return false;
  }
  return true;
}

void Health::Publish() {
  bool ready = ReadyLocked();
  if (published_once_ && ready == published_ready_) return;
  published_once_ = true;
  published_ready_ = ready;
  if (grpc_ == nullptr) return;
  grpc_->SetServingStatus(ready);
  for (const std::string& n : names_) grpc_->SetServingStatus(n, ready);
}

void Health::BeginShutdown() {
  absl::MutexLock l(&mu_);
  if (shutting_down_) return;
  shutting_down_ = true;
  Publish();
}

Health::Report Health::Get() const {
  absl::MutexLock l(&mu_);
  Report r;
  r.ready = ReadyLocked();
  r.live = !(in_round_ && absl::Now() - round_started_ > options_.stuck_after);
  nlohmann::json checks = nlohmann::json::object();
  for (const auto& [name, st] : results_) {
    checks[name] = st.ok() ? std::string("ok") : std::string(st.message());
  }
  r.detail = {
      {"ready", r.ready}, {"live", r.live}, {"shutting_down", shutting_down_}, {"checks", checks}};
  return r;
}

}  // namespace dossiersync
