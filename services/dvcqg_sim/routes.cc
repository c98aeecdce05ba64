// The simulator's routes: the two DVCQG endpoints and the /admin interface for tests.
#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "services/dvcqg_sim/simulator.h"

namespace dossiersync::sim {
namespace {

using nlohmann::json;

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

json ErrorBody(int status, const std::string& message) {
  return {{"error_code", absl::StrCat(status)}, {"message", message}};
}

}  // namespace

json Simulator::Stats() {
  json out;
  {
    absl::MutexLock l(&mu_);
    out["logins"] = logins_;
    out["login_failures"] = login_failures_;
    out["active_sessions"] = sessions_.size();
    absl::Time now = absl::Now();
    int64_t valid = 0;
    for (const auto& [token, expires] : sessions_) valid += now < expires;
    out["valid_sessions"] = valid;
    out["outcomes"] = outcomes_;
    out["injected"] = injected_;
  }
  auto counts = store_->Counts();
  if (counts.ok()) out["store"] = *counts;
  out["faults"] = faults_.Get().ToJson();
  return out;
}

json Simulator::CallLog() {
  json out = json::array();
  absl::MutexLock l(&mu_);
  for (const Call& c : calls_) {
    out.push_back({{"arrived_us", c.arrived_us},
                   {"answered_us", c.answered_us},
                   {"service", c.service},
                   {"status", c.status},
                   {"codes", c.codes}});
  }
  return out;
}

void Simulator::Routes() {
  httplib::Server& s = *http_;
  s.Post("/mapi/login",
         [this](const httplib::Request& q, httplib::Response& r) { HandleLogin(q, r); });
  s.Post("/mapi/g",
         [this](const httplib::Request& q, httplib::Response& r) { HandleService(q, r); });
  s.Get("/health", [](const httplib::Request&, httplib::Response& r) {
    Reply(r, 200, {{"status", "ok"}});
  });
  s.Get("/admin/faults", [this](const httplib::Request&, httplib::Response& r) {
    Reply(r, 200, faults_.Get().ToJson());
  });
  s.Post("/admin/faults", [this](const httplib::Request& q, httplib::Response& r) {
    json body = json::parse(q.body, nullptr, false);
    absl::Status st = body.is_discarded() ? absl::InvalidArgumentError("malformed JSON body")
                                          : faults_.Merge(body);
    if (!st.ok()) return Reply(r, 400, ErrorBody(400, std::string(st.message())));
    LogInfo("faults changed", {{"faults", faults_.Get().ToJson()}});
    Reply(r, 200, faults_.Get().ToJson());
  });
  s.Post("/admin/sessions/revoke", [this](const httplib::Request&, httplib::Response& r) {
    size_t n;
    {
      absl::MutexLock l(&mu_);
      n = sessions_.size();
      sessions_.clear();
    }
    Reply(r, 200, {{"revoked", n}});
  });
  s.Post(R"(/admin/tamper/([^/]+))", [this](const httplib::Request& q, httplib::Response& r) {
    json patch = json::parse(q.body, nullptr, false);
    if (patch.is_discarded() || !patch.is_object()) {
      return Reply(r, 400, ErrorBody(400, "expected a JSON object of DVCQG fields"));
    }
    auto done = store_->Tamper(q.matches[1], patch);
    if (!done.ok()) return Reply(r, 500, ErrorBody(500, std::string(done.status().message())));
    if (!*done) return Reply(r, 404, ErrorBody(404, "unknown dossier"));
    Reply(r, 200, {{"tampered", std::string(q.matches[1])}});
  });
  s.Get(R"(/admin/dossiers/([^/]+))", [this](const httplib::Request& q, httplib::Response& r) {
    auto found = store_->Lookup(q.matches[1]);
    if (!found.ok()) return Reply(r, 500, ErrorBody(500, std::string(found.status().message())));
    if (!found->has_value()) return Reply(r, 404, ErrorBody(404, "unknown dossier"));
    Reply(r, 200, **found);
  });
  s.Get(R"(/admin/history/([^/]+))", [this](const httplib::Request& q, httplib::Response& r) {
    auto h = store_->History(q.matches[1]);
    if (!h.ok()) return Reply(r, 500, ErrorBody(500, std::string(h.status().message())));
    Reply(r, 200, {{"code", std::string(q.matches[1])}, {"history", *h}});
  });
  s.Get("/admin/stats",
        [this](const httplib::Request&, httplib::Response& r) { Reply(r, 200, Stats()); });
  s.Get("/admin/calls",
        [this](const httplib::Request&, httplib::Response& r) { Reply(r, 200, CallLog()); });
  s.Post("/admin/reset", [this](const httplib::Request&, httplib::Response& r) {
    absl::Status st = store_->Reset();
    if (!st.ok()) return Reply(r, 500, ErrorBody(500, std::string(st.message())));
    faults_.Set(Faults());
    {
      absl::MutexLock l(&mu_);
      sessions_.clear();
      outcomes_.clear();
      injected_.clear();
      calls_.clear();
      logins_ = 0;
      login_failures_ = 0;
    }
    Reply(r, 200, {{"reset", true}});
  });
  // Errors cpp-httplib produces itself (413 body too large, 404 no route, ...) get a JSON body.
  s.set_error_handler([max = config_.max_body_bytes](const httplib::Request& q,
                                                     httplib::Response& r) {
    if (!r.body.empty()) return;  // a handler already answered with its own body
    std::string msg = r.status == 413   ? absl::StrCat("request body over ", max, " bytes")
                      : r.status == 404 ? absl::StrCat("no such endpoint: ", q.method, " ", q.path)
                                        : absl::StrCat("HTTP ", r.status);
    Reply(r, r.status, ErrorBody(r.status, msg));
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& r, std::exception_ptr) {
    Reply(r, 500, ErrorBody(500, "internal error"));
  });
}

}  // namespace dossiersync::sim
