#include "services/dvcqg_sim/simulator.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/dvcqg/mapping.h"
#include "common/http_server.h"
#include "common/ids.h"
#include "common/log.h"
#include "services/dvcqg_sim/validation.h"

namespace dossiersync::sim {
namespace {

using nlohmann::json;

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

json Error(const std::string& code, const std::string& message) {
  return {{"error_code", code}, {"message", message}};
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

absl::Status SimConfig::ParseSuccessCode(const std::string& flag) {
  if (flag == "00" || flag == "\"00\"") {
    success_code = "00";
  } else if (flag == "\"0\"") {
    success_code = "0";
  } else if (flag == "0") {
    success_code = 0;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--success_code: expected 00, \"0\" (strings) or 0 (a number), got '", flag, "'"));
  }
  return absl::OkStatus();
}

absl::Status SimConfig::Validate() const {
  if (success_code != json(0) && success_code != json("0") && success_code != json("00")) {
    return absl::InvalidArgumentError("success_code must be 0, \"0\" or \"00\"");
  }
  if (listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("--listen: expected HOST:PORT");
  }
  if (username.empty() || password.empty()) {
    return absl::InvalidArgumentError("the simulator needs a username and a password");
  }
  if (max_batch < 1 || max_progress_rows < 1) {
    return absl::InvalidArgumentError("--max_batch and --max_progress_rows must be >= 1");
  }
  if (session_ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("--session_ttl > 0");
  if (threads < 4) return absl::InvalidArgumentError("--threads must be >= 4");
  return absl::OkStatus();
}

json SimConfig::ToJson() const {
  return {{"listen", listen},
          {"database", MaskUri(database)},
          {"username", username},
          {"password", MaskSecret(password)},
          {"session_ttl", absl::FormatDuration(session_ttl)},
          {"max_batch", max_batch},
          {"max_progress_rows", max_progress_rows},
          {"max_body_bytes", max_body_bytes},
          {"threads", threads},
          {"success_code", success_code},
          {"enterprise_id_kind", enterprise_id_kind},
          {"faults", faults.ToJson()}};
}

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Start(const SimConfig& config) {
  if (auto st = config.Validate(); !st.ok()) return st;
  storage::OpenOptions oo;
  oo.sqlite_synchronous = "NORMAL";
  auto db = storage::Open(config.database, oo);
  if (!db.ok()) return db.status();
  auto store = SimStore::Open(std::move(*db));
  if (!store.ok()) return store.status();
  auto s = std::unique_ptr<Simulator>(new Simulator(config));
  s->store_ = std::move(*store);
  s->faults_.Set(config.faults);
  s->http_ = std::make_unique<httplib::Server>();
  int threads = config.threads;
  s->http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s->http_->set_payload_max_length(config.max_body_bytes);
  s->http_->set_keep_alive_max_count(100000);
  s->Routes();
  auto port = StartHttpServer(*s->http_, config.listen, &s->thread_, "--listen");
  if (!port.ok()) return port.status();
  s->port_ = *port;
  return s;
}

Simulator::Simulator(SimConfig c) : config_(std::move(c)) {}

Simulator::~Simulator() { Stop(); }

void Simulator::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  StopHttpServer(http_.get(), &thread_);
}

std::string Simulator::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

void Simulator::Count(const std::string& service, const std::string& outcome) {
  absl::MutexLock l(&mu_);
  ++outcomes_[service][outcome];
}

bool Simulator::SessionValid(const std::string& token) {
  absl::MutexLock l(&mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return false;
  if (absl::Now() >= it->second) {
    sessions_.erase(it);
    return false;
  }
  return true;
}

void Simulator::HandleLogin(const httplib::Request& req, httplib::Response& res) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Reply(res, 400,
                 Error("400", "malformed JSON body: expected {\"username\",\"password\"}"));
  }
  if (Str(body, "username") != config_.username || Str(body, "password") != config_.password) {
    absl::MutexLock l(&mu_);
    ++login_failures_;
    return Reply(res, 200, Error("1", "Sai tên đăng nhập hoặc mật khẩu"));
  }
  std::string token = NewEventId();
  {
    absl::MutexLock l(&mu_);
    sessions_[token] = absl::Now() + config_.session_ttl;
    ++logins_;
  }
  Reply(res, 200,
        {{"error_code", config_.success_code},
         {"message", "Đăng nhập thành công"},
         {"session", token}});
}

json Simulator::WriteResponse(const std::vector<ItemResult>& results) {
  json items = json::array();
  std::string first_error;
  std::string first_message;
  int failed = 0;
  for (const auto& r : results) {
    items.push_back(r.ToJson());
    if (r.error_code == "0") {
      items.back()["error_code"] = config_.success_code;
    } else {
      if (failed++ == 0) {
        first_error = r.error_code;
        first_message = r.message;
      }
    }
  }
  if (failed == 0) {
    return {{"error_code", config_.success_code}, {"message", "Thành công"}, {"result", items}};
  }
  return {{"error_code", first_error},
          {"message", absl::StrCat(failed, "/", results.size(), " bị từ chối: ", first_message)},
          {"result", items}};
}

json Simulator::Dispatch(const json& body, bool drop) {
  std::string service = Str(body, "service");
  if (service == "TraCuuHoSo") {
    std::string code = Str(body, "mahoso");
    if (code.empty()) return Error("2", "Trường mahoso bắt buộc");
    auto found = store_->Lookup(code);
    if (!found.ok()) return Error("500", std::string(found.status().message()));
    json result = json::array();
    if (found->has_value()) result.push_back(**found);
    return {{"error_code", config_.success_code}, {"message", "Thành công"}, {"result", result}};
  }
  bool sync = service == "DongBoHoSoMC";
  if (!sync && service != "CapNhatTienDoHoSoMC") {
    return Error("2", absl::StrCat("Trường service không hợp lệ: '", service, "'"));
  }
  auto data = body.find("data");
  int max = sync ? config_.max_batch : config_.max_progress_rows;
  if (data == body.end() || !data->is_array() || data->empty() ||
      static_cast<int>(data->size()) > max) {
    return Error("2", absl::StrCat("Trường data phải là mảng 1-", max, " phần tử"));
  }
  if (!sync && faults_.Get().refuse_mixed_progress) {
    std::set<std::string> codes;
    for (const auto& item : *data) codes.insert(item.is_object() ? Str(item, "MaHoSo") : "");
    if (codes.size() > 1) {
      return Error("2", "Mỗi yêu cầu CapNhatTienDoHoSoMC chỉ được chứa tiến độ của một hồ sơ");
    }
  }
  std::string updating = Str(body, "isUpdating");
  if (sync && updating != "True" && updating != "False") {
    return Error("2", "Trường isUpdating phải là \"True\" hoặc \"False\"");
  }
  // Validate every item; the valid ones go to the store, in order, with the invalid ones answered.
  std::vector<ItemResult> results(data->size());
  std::vector<json> valid;
  std::vector<size_t> valid_idx;
  for (size_t i = 0; i < data->size(); ++i) {
    const json& item = (*data)[i];
    results[i].code = item.is_object() ? Str(item, "MaHoSo") : "";
    auto bad =
        sync ? ValidateDossierItem(item, config_.enterprise_id_kind) : ValidateProgressItem(item);
    if (!bad && sync) {
      const auto& rejected = faults_.Get().reject_procedure_codes;
      std::string procedure = Str(item, "MaTTHC");
      if (std::find(rejected.begin(), rejected.end(), procedure) != rejected.end()) {
        bad = Violation{"MaTTHC", absl::StrCat("Trường MaTTHC không hợp lệ: thủ tục ", procedure,
                                               " không có trong CSDL quốc gia")};
      }
    }
    if (bad) {
      results[i].error_code = "2";
      results[i].message = bad->message;
      results[i].field = bad->field;
    } else {
      valid.push_back(item);
      valid_idx.push_back(i);
    }
  }
  if (!valid.empty()) {
    auto stored = sync ? store_->SyncDossiers(valid, updating == "True", drop)
                       : store_->AddProgress(valid, drop);
    if (!stored.ok()) return Error("500", std::string(stored.status().message()));
    for (size_t k = 0; k < valid_idx.size(); ++k) results[valid_idx[k]] = (*stored)[k];
  }
  return WriteResponse(results);
}

void Simulator::HandleService(const httplib::Request& req, httplib::Response& res) {
  Call call;
  call.arrived_us = absl::ToUnixMicros(absl::Now());
  json body = json::parse(req.body, nullptr, false);
  if (body.is_object()) {
    call.service = Str(body, "service");
    if (!Str(body, "mahoso").empty()) call.codes.push_back(Str(body, "mahoso"));
    auto data = body.find("data");
    if (data != body.end() && data->is_array()) {
      for (const auto& item : *data) {
        if (item.is_object() && call.codes.size() < 10) call.codes.push_back(Str(item, "MaHoSo"));
      }
    }
  }
  if (int slow = faults_.SlowDelayMs(call.codes); slow > 0) {
    {
      absl::MutexLock l(&mu_);
      ++injected_["slow"];
    }
    stopping_.WaitForNotificationWithTimeout(absl::Milliseconds(slow));
  }
  Serve(body, res);
  call.answered_us = absl::ToUnixMicros(absl::Now());
  call.status = res.status;
  absl::MutexLock l(&mu_);
  calls_.push_back(std::move(call));
  if (calls_.size() > kMaxCalls) calls_.pop_front();
}

void Simulator::Serve(const json& body, httplib::Response& res) {
  std::string service = body.is_object() ? Str(body, "service") : "";
  bool is_write = service == "DongBoHoSoMC" || service == "CapNhatTienDoHoSoMC";
  int delay_ms = 0;
  FaultAction action = faults_.Draw(is_write, &delay_ms);
  if (delay_ms > 0) stopping_.WaitForNotificationWithTimeout(absl::Milliseconds(delay_ms));
  auto inject = [&](const char* name) {
    absl::MutexLock l(&mu_);
    ++injected_[name];
  };
  switch (action) {
    case FaultAction::kError500:
      inject("error_500");
      return Reply(res, 500, Error("500", "Lỗi hệ thống (injected)"));
    case FaultAction::kError503:
      inject("error_503");
      return Reply(res, 503, Error("503", "Dịch vụ tạm thời không khả dụng (injected)"));
    case FaultAction::kRateLimit:
      inject("rate_429");
      res.set_header("Retry-After", absl::StrCat(faults_.Get().retry_after_s));
      return Reply(res, 429, Error("429", "Quá nhiều yêu cầu (injected)"));
    default:
      break;
  }
  Faults f = faults_.Get();
  if (action == FaultAction::kHang && !f.hang_after_apply) {
    inject("hang_before_apply");
    stopping_.WaitForNotificationWithTimeout(absl::Milliseconds(f.hang_ms));
    return Reply(res, 504, Error("504", "Hết thời gian xử lý (injected)"));
  }
  if (body.is_discarded() || !body.is_object()) {
    Count("invalid", "400");
    return Reply(res, 400, Error("400", "malformed JSON body: expected a JSON object"));
  }
  if (!SessionValid(Str(body, "session"))) {
    Count(service.empty() ? "unknown" : service, "401");
    return Reply(res, 200, Error("401", "Phiên làm việc không hợp lệ"));
  }
  auto hang_after = [&] {
    if (action != FaultAction::kHang) return;
    inject("hang_after_apply");
    stopping_.WaitForNotificationWithTimeout(absl::Milliseconds(f.hang_ms));
  };
  if (service == "TraCuuHoSo" && !Str(body, "mahoso").empty()) {
    // Lookups answer with the stored text as it is (SimStore::LookupText); a missing mahoso or a
    // store error takes the general path below, which answers it.
    auto found = store_->LookupText(Str(body, "mahoso"));
    if (found.ok()) {
      Count(service, "0");
      hang_after();
      res.status = 200;
      res.set_content(
          absl::StrCat(R"({"error_code":)", config_.success_code.dump(),
                       R"(,"message":"Thành công","result":[)", found->value_or(""), "]}\n"),
          "application/json");
      return;
    }
  }
  bool drop = action == FaultAction::kDrop;
  if (drop) inject("dropped_write");
  json out = Dispatch(body, drop);
  // Stats count successes as "0" whatever the configured success code.
  std::string code = dvcqg::ErrorCodeOf(out);
  Count(service.empty() ? "unknown" : service, dvcqg::IsSuccessCode(code) ? "0" : code);
  hang_after();
  Reply(res, 200, out);
}

}  // namespace dossiersync::sim
