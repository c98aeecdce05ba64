#include "common/dvcqg/client.h"

#include <httplib.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/utf8.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

namespace dossiersync::dvcqg {

using nlohmann::json;

struct Client::Metrics {
  prometheus::Family<prometheus::Histogram>* latency;
  prometheus::Family<prometheus::Counter>* calls;
  prometheus::Counter* logins;
};

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted:
      return "accepted";
    case Outcome::kAlreadyExists:
      return "already_exists";
    case Outcome::kNotFound:
      return "not_found";
    case Outcome::kSessionRejected:
      return "session_rejected";
    case Outcome::kInvalidItem:
      return "invalid_item";
    case Outcome::kRateLimited:
      return "rate_limited";
    case Outcome::kServerError:
      return "server_error";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kNetworkError:
      return "network_error";
    case Outcome::kBadResponse:
      return "bad_response";
  }
  return "unknown";
}

bool IsRetryable(Outcome o) {
  return o == Outcome::kRateLimited || o == Outcome::kServerError || o == Outcome::kTimeout ||
         o == Outcome::kNetworkError || o == Outcome::kBadResponse;
}

namespace {

// Per-item codes. A call's answer without error_code is a bad response (Client::Post).
Outcome FromErrorCode(const std::string& code) {
  if (IsSuccessCode(code)) return Outcome::kAccepted;
  if (code == "3") return Outcome::kAlreadyExists;
  if (code == "4") return Outcome::kNotFound;
  if (code == "401") return Outcome::kSessionRejected;
  return Outcome::kInvalidItem;  // "2" and any other permanent rejection
}

// Lower-cases ASCII and the Vietnamese capitals (Latin-1, Latin Extended-A/B and the
// U+1EA0-U+1EF9 block) so that "THÀNH CÔNG", "Thành công" and "thành công" compare equal.
std::string FoldCase(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t len = std::max<size_t>(1, Utf8SequenceLength(c));
    if (len == 1 || len == 4 || i + len > s.size()) {
      size_t n = len == 4 && i + len <= s.size() ? 4 : 1;
      for (size_t k = 0; k < n; ++k) out.push_back(absl::ascii_tolower(s[i + k]));
      i += n;
      continue;
    }
    uint32_t cp = c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
    if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) {
      cp += 0x20;
    } else if (((cp >= 0x100 && cp <= 0x17F) || (cp >= 0x1EA0 && cp <= 0x1EF9)) && cp % 2 == 0) {
      cp += 1;
    } else if (cp == 0x1A0 || cp == 0x1AF) {
      cp += 1;  // Ơ, Ư
    }
    if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    } else {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    }
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    i += len;
  }
  return out;
}

}  // namespace

bool ContainsFolded(absl::string_view text, absl::string_view needle) {
  return absl::StrContains(FoldCase(text), FoldCase(needle));
}

namespace {

std::string Message(const json& j) {
  auto it = j.find("message");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Retry-After: delay-seconds (an HTTP date is treated as 1 s; DVCQG is not known to send one).
absl::Duration ParseRetryAfter(const std::string& v) {
  int64_t s = 0;
  if (absl::SimpleAtoi(v, &s) && s >= 0) return absl::Seconds(std::min<int64_t>(s, 3600));
  return absl::Seconds(1);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientConfig& config,
                                                       prometheus::Registry* registry) {
  if (auto st = config.Validate(); !st.ok()) return st;
  auto c = std::unique_ptr<Client>(new Client(config));
  static prometheus::Registry* fallback = new prometheus::Registry();
  prometheus::Registry& r = registry ? *registry : *fallback;
  c->metrics_ = std::make_unique<Metrics>();
  c->metrics_->latency = &prometheus::BuildHistogram()
                              .Name("dossiersync_dvcqg_call_seconds")
                              .Help("DVCQG call latency by service and outcome")
                              .Register(r);
  c->metrics_->calls = &prometheus::BuildCounter()
                            .Name("dossiersync_dvcqg_calls_total")
                            .Help("DVCQG calls by service and outcome")
                            .Register(r);
  c->metrics_->logins = &prometheus::BuildCounter()
                             .Name("dossiersync_dvcqg_logins_total")
                             .Help("DVCQG logins")
                             .Register(r)
                             .Add({});
  return c;
}

Client::Client(ClientConfig config) : config_(std::move(config)) {}

Client::~Client() = default;

int64_t Client::logins() const {
  absl::MutexLock l(&mu_);
  return logins_;
}

std::unique_ptr<httplib::Client> Client::Acquire() {
  {
    absl::MutexLock l(&mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<httplib::Client>(config_.base_url);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);  // small JSON requests: no Nagle / delayed-ACK stalls
  c->set_connection_timeout(absl::ToChronoMicroseconds(config_.connect_timeout));
  c->set_read_timeout(absl::ToChronoMicroseconds(config_.read_timeout));
  c->set_write_timeout(absl::ToChronoMicroseconds(config_.read_timeout));
  if (!config_.ca_file.empty()) {
    c->set_ca_cert_path(config_.ca_file.c_str());
    c->enable_server_certificate_verification(true);
  }
  return c;
}

void Client::Release(std::unique_ptr<httplib::Client> c) {
  absl::MutexLock l(&mu_);
  if (static_cast<int>(idle_.size()) < config_.max_connections) idle_.push_back(std::move(c));
}

CallResult Client::Post(const std::string& path, const std::string& body) {
  CallResult r;
  httplib::Headers headers = {{"Accept", "application/json"}};
  if (!config_.dstcode.empty()) headers.emplace("dstcode", config_.dstcode);
  auto http = Acquire();
  absl::Time start = absl::Now();
  httplib::Result res = http->Post(path.c_str(), headers, body, "application/json");
  r.latency = absl::Now() - start;
  if (!res) {
    httplib::Error e = res.error();
    bool timed_out = e == httplib::Error::ConnectionTimeout ||
                     ((e == httplib::Error::Read || e == httplib::Error::Write) &&
                      r.latency >= config_.read_timeout - absl::Milliseconds(50));
    r.outcome = timed_out ? Outcome::kTimeout : Outcome::kNetworkError;
    r.message = httplib::to_string(e);
    return r;  // the connection is dropped, not reused
  }
  Release(std::move(http));
  r.http_status = res->status;
  if (res->status == 429) {
    r.outcome = Outcome::kRateLimited;
    r.retry_after = ParseRetryAfter(res->get_header_value("Retry-After"));
    r.message = "HTTP 429";
    return r;
  }
  if (res->status >= 500) {
    r.outcome = Outcome::kServerError;
    r.message = absl::StrCat("HTTP ", res->status);
    return r;
  }
  r.response = json::parse(res->body, nullptr, false);
  if (res->status != 200 || r.response.is_discarded() || !r.response.is_object()) {
    r.outcome = Outcome::kBadResponse;
    r.message = absl::StrCat("HTTP ", res->status, ": ", res->body.substr(0, 200));
    if (r.response.is_discarded()) r.response = json();
    return r;
  }
  r.error_code = ErrorCodeOf(r.response);
  r.message = Message(r.response);
  if (r.error_code.empty()) {
    // Never success: a proxy's or a broken adapter's 200 without the protocol's answer.
    r.outcome = Outcome::kBadResponse;
    r.message = absl::StrCat("answer without error_code: ", res->body.substr(0, 200));
    return r;
  }
  r.outcome = FromErrorCode(r.error_code);
  if (r.outcome == Outcome::kAccepted && !config_.success_message.empty() &&
      !ContainsFolded(r.message, config_.success_message)) {
    r.outcome = Outcome::kBadResponse;
    r.message = absl::StrCat("success code ", r.error_code, " without \"", config_.success_message,
                             "\" in the message: ", r.message);
  }
  return r;
}

absl::StatusOr<std::string> Client::Session(CallResult* result) {
  {
    absl::MutexLock l(&mu_);
    while (true) {
      if (!token_.empty() && absl::Now() < token_expires_) return token_;
      if (!logging_in_) break;
      mu_.Await(absl::Condition(
          +[](bool* b) { return !*b; }, &logging_in_));
    }
    logging_in_ = true;
  }
  json body = {{"username", config_.credentials.username},
               {"password", config_.credentials.password}};
  CallResult r = Post(config_.login_path, body.dump());
  metrics_->logins->Increment();
  ++result->logins;
  std::string token;
  if (r.outcome == Outcome::kAccepted) {
    auto it = r.response.find("session");
    if (it != r.response.end() && it->is_string() && !it->get<std::string>().empty()) {
      token = it->get<std::string>();
    } else {
      r.outcome = Outcome::kBadResponse;
      r.message = "login answered without a session";
    }
  } else if (r.outcome == Outcome::kInvalidItem || r.outcome == Outcome::kNotFound ||
             r.outcome == Outcome::kAlreadyExists) {
    r.outcome = Outcome::kSessionRejected;  // the login itself was refused
  }
  absl::MutexLock l(&mu_);
  logging_in_ = false;
  ++logins_;
  if (token.empty()) {
    LogWarn("DVCQG login failed", {{"outcome", OutcomeName(r.outcome)}, {"message", r.message}});
    *result = r;
    return absl::UnavailableError(absl::StrCat("DVCQG login: ", r.message));
  }
  token_ = token;
  token_expires_ = absl::Now() + config_.session_ttl - absl::Seconds(30);
  return token_;
}

void Client::Invalidate(const std::string& token) {
  absl::MutexLock l(&mu_);
  if (token_ == token) token_.clear();  // only the first caller to see the rejection clears it
}

CallResult Client::Call(const char* service, json body, const std::vector<std::string>& codes) {
  CallResult r;
  int logins = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    CallResult login;
    auto token = Session(&login);
    logins += login.logins;
    if (!token.ok()) {
      r = login;
      break;
    }
    body["session"] = *token;
    r = Post(config_.service_path, body.dump(-1, ' ', false, json::error_handler_t::replace));
    if (r.outcome == Outcome::kSessionRejected && attempt == 0) {
      Invalidate(*token);
      continue;
    }
    break;
  }
  r.logins = logins;
  // Per-item results: `result` items carrying MaHoSo and error_code; else the call's outcome.
  std::map<std::string, ItemResult> by_code;
  if (auto it = r.response.find("result"); it != r.response.end() && it->is_array()) {
    for (const auto& item : *it) {
      if (!item.is_object() || !item.contains("MaHoSo") || !item.contains("error_code")) continue;
      ItemResult ir;
      ir.code = item["MaHoSo"].is_string() ? item["MaHoSo"].get<std::string>() : "";
      ir.error_code = ErrorCodeOf(item);
      ir.outcome = FromErrorCode(ir.error_code);
      ir.message = Message(item);
      if (item.contains("field") && item["field"].is_string()) ir.field = item["field"];
      by_code[ir.code] = ir;
    }
  }
  for (const std::string& code : codes) {
    auto it = by_code.find(code);
    if (it != by_code.end()) {
      r.items.push_back(it->second);
    } else {
      r.items.push_back(ItemResult{code, r.outcome, r.error_code, r.message, r.field});
    }
  }
  if (r.items.size() == 1 && r.field.empty()) r.field = r.items[0].field;
  metrics_->latency
      ->Add({{"service", service}, {"outcome", OutcomeName(r.outcome)}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(r.latency));
  metrics_->calls->Add({{"service", service}, {"outcome", OutcomeName(r.outcome)}}).Increment();
  return r;
}

CallResult Client::SyncDossiers(const std::vector<DossierItem>& items, bool is_update) {
  if (items.empty() || static_cast<int>(items.size()) > config_.batch_size) {
    CallResult r;
    r.outcome = Outcome::kInvalidItem;
    r.message =
        absl::StrCat("DongBoHoSoMC takes 1-", config_.batch_size, " dossiers, got ", items.size());
    return r;
  }
  json data = json::array();
  std::vector<std::string> codes;
  for (const auto& [d, status] : items) {
    data.push_back(DossierToJson(*d, status, config_.limits));
    codes.push_back(d->code());
  }
  json body = {{"madonvi", config_.agency_code},
               {"service", kServiceSync},
               {"isUpdating", is_update ? "True" : "False"},
               {"data", std::move(data)}};
  return Call(kServiceSync, std::move(body), codes);
}

std::vector<CallResult> Client::UpdateProgress(const std::string& code,
                                               const std::vector<StepItem>& steps) {
  std::vector<CallResult> out;
  for (size_t i = 0; i < steps.size(); i += config_.progress_chunk) {
    json data = json::array();
    for (size_t k = i; k < std::min(steps.size(), i + config_.progress_chunk); ++k) {
      data.push_back(StepToJson(code, *steps[k].first, steps[k].second, config_.limits));
    }
    json body = {
        {"madonvi", config_.agency_code}, {"service", kServiceProgress}, {"data", std::move(data)}};
    out.push_back(Call(kServiceProgress, std::move(body), {code}));
    if (out.back().outcome != Outcome::kAccepted) break;
  }
  return out;
}

CallResult Client::UpdateProgressRows(const std::vector<ProgressRow>& rows) {
  if (rows.empty() || static_cast<int>(rows.size()) > config_.progress_chunk) {
    CallResult r;
    r.outcome = Outcome::kInvalidItem;
    r.message = absl::StrCat("CapNhatTienDoHoSoMC takes 1-", config_.progress_chunk, " rows, got ",
                             rows.size());
    return r;
  }
  json data = json::array();
  std::vector<std::string> codes;
  for (const ProgressRow& row : rows) {
    data.push_back(StepToJson(row.code, *row.step, row.status, config_.limits));
    if (std::find(codes.begin(), codes.end(), row.code) == codes.end()) codes.push_back(row.code);
  }
  json body = {
      {"madonvi", config_.agency_code}, {"service", kServiceProgress}, {"data", std::move(data)}};
  return Call(kServiceProgress, std::move(body), codes);
}

LookupResult Client::Lookup(const std::string& code) {
  LookupResult out;
  json body = {{"madonvi", config_.agency_code}, {"service", kServiceLookup}, {"mahoso", code}};
  out.call = Call(kServiceLookup, std::move(body), {});
  if (out.call.outcome != Outcome::kAccepted) return out;
  auto it = out.call.response.find("result");
  if (it == out.call.response.end() || !it->is_array()) {
    out.call.outcome = Outcome::kBadResponse;
    out.call.message = "TraCuuHoSo answered without a result array";
    return out;
  }
  for (const auto& item : *it) {
    auto d = DossierFromJson(item, config_.limits);
    if (!d.ok()) {
      out.call.outcome = Outcome::kBadResponse;
      out.call.message = absl::StrCat("TraCuuHoSo result: ", d.status().message());
      return out;
    }
    if (d->code() == code) {
      out.dossier = std::move(*d);
      break;
    }
  }
  return out;
}

}  // namespace dossiersync::dvcqg
