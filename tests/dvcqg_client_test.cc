// The DVCQG client against the simulator over a real socket: every service, every classified
// outcome, every fault kind, sessions (expiry, revocation, no login storm).
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/dvcqg/client.h"
#include "gtest/gtest.h"
#include "services/dvcqg_sim/simulator.h"
#include "tests/test_util.h"

namespace dossiersync::dvcqg {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::ProgressStep;
using nlohmann::json;

class DvcqgClientTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSim({}); }
  void StartSim(const sim::Faults& faults, absl::Duration ttl = absl::Minutes(10),
                const json& success_code = "00") {
    sim_.reset();
    sim::SimConfig c;
    c.success_code = success_code;
    c.listen = "127.0.0.1:0";
    c.database = "sqlite:" + dir_.File("sim.db");
    c.faults = faults;
    c.session_ttl = ttl;
    auto s = sim::Simulator::Start(c);
    ASSERT_TRUE(s.ok()) << s.status();
    sim_ = std::move(*s);
    client_ = NewClient();
  }
  std::unique_ptr<Client> NewClient(absl::Duration read_timeout = absl::Seconds(6)) {
    ClientConfig c;
    c.base_url = sim_->url();
    c.credentials = {"langson", "langson-dev-password"};
    c.read_timeout = read_timeout;
    auto cl = Client::Create(c);
    EXPECT_TRUE(cl.ok()) << cl.status();
    return std::move(*cl);
  }
  json Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    httplib::Client h("127.0.0.1", sim_->port());
    auto r = method == "GET" ? h.Get(path.c_str()) : h.Post(path.c_str(), body, "application/json");
    if (!r) return json();
    return json::parse(r->body, nullptr, false);
  }
  void SetFaults(const json& f) { Admin("POST", "/admin/faults", f.dump()); }
  static Dossier D(int seq, int status = 2) {
    return testing::ValidRequest(seq, status, 100).dossier();
  }
  CallResult Create(const Dossier& d) { return client_->SyncDossiers({{&d, d.status()}}, false); }

  testing::TempDir dir_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Client> client_;
};

TEST_F(DvcqgClientTest, CreateThenUpdateThenLookup) {
  Dossier d = D(1, 1);
  CallResult r = Create(d);
  ASSERT_EQ(r.outcome, Outcome::kAccepted) << r.message;
  EXPECT_EQ(r.logins, 1);
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].outcome, Outcome::kAccepted);
  Dossier d2 = D(1, 4);
  r = client_->SyncDossiers({{&d2, 4}}, true);
  EXPECT_EQ(r.outcome, Outcome::kAccepted) << r.message;
  EXPECT_EQ(r.logins, 0) << "the session is reused";
  LookupResult l = client_->Lookup(d.code());
  ASSERT_EQ(l.call.outcome, Outcome::kAccepted) << l.call.message;
  ASSERT_TRUE(l.dossier.has_value());
  EXPECT_EQ(l.dossier->status(), dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  EXPECT_EQ(l.dossier->procedure_name(), "Đăng ký khai sinh");
  EXPECT_FALSE(client_->Lookup("000.00.13.H37-240705-9999").dossier.has_value());
}

TEST_F(DvcqgClientTest, BatchesWithPerItemOutcomes) {
  Dossier existing = D(1);
  ASSERT_EQ(Create(existing).outcome, Outcome::kAccepted);
  std::vector<Dossier> ds = {D(2), D(1), D(3)};
  ds[2].clear_procedure_name();  // DVCQG requires TenTTHC
  std::vector<DossierItem> items;
  for (const auto& d : ds) items.push_back({&d, d.status()});
  CallResult r = client_->SyncDossiers(items, false);
  ASSERT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.items[0].outcome, Outcome::kAccepted);
  EXPECT_EQ(r.items[1].outcome, Outcome::kAlreadyExists);
  EXPECT_NE(r.items[1].message.find("đã tồn tại"), std::string::npos);
  EXPECT_EQ(r.items[2].outcome, Outcome::kInvalidItem);
  EXPECT_EQ(r.items[2].field, "TenTTHC");
}

TEST_F(DvcqgClientTest, UpdateOfMissingIsNotFound) {
  Dossier d = D(5);
  CallResult r = client_->SyncDossiers({{&d, 2}}, true);
  EXPECT_EQ(r.outcome, Outcome::kNotFound);
  EXPECT_NE(r.message.find("không tồn tại"), std::string::npos);
}

TEST_F(DvcqgClientTest, BatchOverTheConfiguredSizeIsRefusedWithoutACall) {
  std::vector<Dossier> ds;
  for (int i = 0; i < 51; ++i) ds.push_back(D(i + 1));
  std::vector<DossierItem> items;
  for (const auto& d : ds) items.push_back({&d, 2});
  EXPECT_EQ(client_->SyncDossiers(items, false).outcome, Outcome::kInvalidItem);
  EXPECT_EQ(Admin("GET", "/admin/stats")["outcomes"].size(), 0u);
}

TEST_F(DvcqgClientTest, ProgressInChunksOfTen) {
  Dossier d = D(1);
  ASSERT_EQ(Create(d).outcome, Outcome::kAccepted);
  std::vector<ProgressStep> steps(25);
  std::vector<StepItem> items;
  for (int i = 0; i < 25; ++i) {
    steps[i] = testing::ValidRequest(1, 2, 100 + i).new_steps(0);
    steps[i].set_content(absl::StrCat("bước ", i));
    items.push_back({&steps[i], 2});
  }
  auto results = client_->UpdateProgress(d.code(), items);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::kAccepted) << r.message;
  json stored = Admin("GET", "/admin/dossiers/" + d.code());
  ASSERT_EQ(stored["QuaTrinhXuLy"].size(), 25u);
  EXPECT_EQ(stored["QuaTrinhXuLy"][24]["NoiDungXuLy"], "bước 24");
  EXPECT_EQ(Admin("GET", "/admin/stats")["outcomes"]["CapNhatTienDoHoSoMC"]["0"], 3);
  auto lookup = client_->Lookup(d.code());
  ASSERT_TRUE(lookup.dossier.has_value());
  EXPECT_EQ(lookup.dossier->steps_size(), 25);
}

TEST_F(DvcqgClientTest, ProgressForMissingDossierIsNotFound) {
  ProgressStep s = testing::ValidRequest(9, 2, 1).new_steps(0);
  auto results = client_->UpdateProgress(D(9).code(), {{&s, 2}});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, Outcome::kNotFound);
}

TEST_F(DvcqgClientTest, WrongCredentialsAreSessionRejected) {
  ClientConfig c = client_->config();
  c.credentials.password = "wrong-password";
  auto bad = Client::Create(c);
  ASSERT_TRUE(bad.ok());
  Dossier d = D(1);
  CallResult r = (*bad)->SyncDossiers({{&d, 2}}, false);
  EXPECT_EQ(r.outcome, Outcome::kSessionRejected);
  EXPECT_EQ(Admin("GET", "/admin/stats")["login_failures"], 1);
}

TEST_F(DvcqgClientTest, RateLimitedWithRetryAfter) {
  SetFaults({{"rate_429", 1.0}, {"retry_after_s", 7}});
  Dossier d = D(1);
  CallResult r = Create(d);
  EXPECT_EQ(r.outcome, Outcome::kRateLimited);
  EXPECT_EQ(r.retry_after, absl::Seconds(7));
  EXPECT_TRUE(IsRetryable(r.outcome));
}

TEST_F(DvcqgClientTest, ServerErrors500And503) {
  Dossier d = D(1);
  SetFaults({{"error_500_rate", 1.0}});
  CallResult r = Create(d);
  EXPECT_EQ(r.outcome, Outcome::kServerError);
  EXPECT_EQ(r.http_status, 500);
  SetFaults({{"error_500_rate", 0.0}, {"error_503_rate", 1.0}});
  r = Create(d);
  EXPECT_EQ(r.outcome, Outcome::kServerError);
  EXPECT_EQ(r.http_status, 503);
}

TEST_F(DvcqgClientTest, HangingResponseIsATimeoutAndTheWriteMayHaveLanded) {
  SetFaults({{"hang_rate", 1.0}, {"hang_ms", 3000}, {"hang_after_apply", true}});
  auto quick = NewClient(absl::Milliseconds(300));
  Dossier d = D(1);
  CallResult r = quick->SyncDossiers({{&d, 2}}, false);
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  SetFaults({{"hang_rate", 0.0}});
  // The write was applied before the hang: a retry as create finds it, as in production.
  EXPECT_EQ(quick->SyncDossiers({{&d, 2}}, false).outcome, Outcome::kAlreadyExists);
}

TEST_F(DvcqgClientTest, HangBeforeApplyStoresNothing) {
  SetFaults({{"hang_rate", 1.0}, {"hang_ms", 2000}, {"hang_after_apply", false}});
  auto quick = NewClient(absl::Milliseconds(300));
  Dossier d = D(1);
  EXPECT_EQ(quick->SyncDossiers({{&d, 2}}, false).outcome, Outcome::kTimeout);
  SetFaults({{"hang_rate", 0.0}});
  EXPECT_EQ(quick->SyncDossiers({{&d, 2}}, false).outcome, Outcome::kAccepted);
}

TEST_F(DvcqgClientTest, LatencyIsAdded) {
  SetFaults({{"latency_ms", 200}});
  Dossier d = D(1);
  CallResult r = Create(d);
  EXPECT_EQ(r.outcome, Outcome::kAccepted);
  EXPECT_GE(r.latency, absl::Milliseconds(200));
}

TEST_F(DvcqgClientTest, SilentlyDroppedWriteAnswersSuccessStoresNothing) {
  SetFaults({{"drop_rate", 1.0}});
  Dossier d = D(1);
  EXPECT_EQ(Create(d).outcome, Outcome::kAccepted);
  SetFaults({{"drop_rate", 0.0}});
  EXPECT_FALSE(client_->Lookup(d.code()).dossier.has_value());
  EXPECT_EQ(Admin("GET", "/admin/stats")["injected"]["dropped_write"], 1);
}

TEST_F(DvcqgClientTest, NetworkErrorWhenNothingListens) {
  ClientConfig c = client_->config();
  c.base_url = absl::StrCat("http://127.0.0.1:", testing::FreePort());
  auto cl = Client::Create(c);
  Dossier d = D(1);
  CallResult r = (*cl)->SyncDossiers({{&d, 2}}, false);
  EXPECT_EQ(r.outcome, Outcome::kNetworkError) << r.message;
}

TEST_F(DvcqgClientTest, BadResponseFromSomethingThatIsNotDvcqg) {
  httplib::Server fake;
  fake.Post("/mapi/login", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>maintenance</html>", "text/html");
  });
  int port = fake.bind_to_any_port("127.0.0.1");
  std::thread t([&] { fake.listen_after_bind(); });
  ClientConfig c = client_->config();
  c.base_url = absl::StrCat("http://127.0.0.1:", port);
  auto cl = Client::Create(c);
  Dossier d = D(1);
  CallResult r = (*cl)->SyncDossiers({{&d, 2}}, false);
  EXPECT_EQ(r.outcome, Outcome::kBadResponse) << r.message;
  cl->reset();  // close the keep-alive connection so the server stops at once
  fake.stop();
  t.join();
}

TEST_F(DvcqgClientTest, RevokedSessionLogsInOnceAndTheCallSucceeds) {
  Dossier d = D(1);
  ASSERT_EQ(Create(d).outcome, Outcome::kAccepted);
  Admin("POST", "/admin/sessions/revoke");
  CallResult r = client_->SyncDossiers({{&d, 2}}, true);
  EXPECT_EQ(r.outcome, Outcome::kAccepted) << r.message;
  EXPECT_EQ(r.logins, 1);
  EXPECT_EQ(client_->logins(), 2);
  EXPECT_EQ(Admin("GET", "/admin/stats")["logins"], 2);
}

TEST_F(DvcqgClientTest, ExpiredSessionLogsInOnceAndTheCallSucceeds) {
  StartSim({}, absl::Milliseconds(300));  // DVCQG's sessions expire sooner than we were told
  Dossier d = D(1);
  ASSERT_EQ(Create(d).outcome, Outcome::kAccepted);
  ASSERT_TRUE(
      testing::WaitFor([&] { return Admin("GET", "/admin/stats")["valid_sessions"] == 0; }));
  CallResult r = client_->SyncDossiers({{&d, 2}}, true);
  EXPECT_EQ(r.outcome, Outcome::kAccepted) << r.message;
  EXPECT_EQ(r.logins, 1);
}

TEST_F(DvcqgClientTest, NoLoginStormWith32ConcurrentCallers) {
  std::vector<Dossier> ds;
  for (int i = 0; i < 32; ++i) ds.push_back(D(i + 1));
  auto run_all = [&](bool update) {
    std::atomic<int> ok{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 32; ++i) {
      ts.emplace_back([&, i] {
        CallResult r = client_->SyncDossiers({{&ds[i], 2}}, update);
        if (r.outcome == Outcome::kAccepted) {
          ++ok;
        } else {
          ADD_FAILURE() << OutcomeName(r.outcome) << ": " << r.message;
        }
      });
    }
    for (auto& t : ts) t.join();
    return ok.load();
  };
  EXPECT_EQ(run_all(false), 32);
  EXPECT_EQ(client_->logins(), 1) << "32 first calls share one login";
  Admin("POST", "/admin/sessions/revoke");
  EXPECT_EQ(run_all(true), 32);
  EXPECT_EQ(client_->logins(), 2) << "a revoked session is replaced by exactly one re-login";
  EXPECT_EQ(Admin("GET", "/admin/stats")["logins"], 2);
}

TEST_F(DvcqgClientTest, DstcodeHeaderAndAgencyAreSent) {
  httplib::Server fake;
  std::string seen_header, seen_agency;
  fake.Post("/mapi/login", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"error_code":"0","session":"t"})", "application/json");
  });
  fake.Post("/mapi/g", [&](const httplib::Request& req, httplib::Response& res) {
    seen_header = req.get_header_value("dstcode");
    seen_agency = json::parse(req.body)["madonvi"];
    res.set_content(R"({"error_code":0,"message":"ok","result":[]})", "application/json");
  });
  int port = fake.bind_to_any_port("127.0.0.1");
  std::thread t([&] { fake.listen_after_bind(); });
  ClientConfig c = client_->config();
  c.base_url = absl::StrCat("http://127.0.0.1:", port);
  c.dstcode = "LSN";
  auto cl = Client::Create(c);
  Dossier d = D(1);
  EXPECT_EQ((*cl)->SyncDossiers({{&d, 2}}, false).outcome, Outcome::kAccepted);
  EXPECT_EQ(seen_header, "LSN");
  EXPECT_EQ(seen_agency, "000.00.00.H37");
  cl->reset();
  fake.stop();
  t.join();
}

// reference/dvcqg.md §3: production answers success as 0, "0" or "00". Regression: "00" was read
// as a rejected login, so nothing reached an independent DVCQG fake answering it.
TEST_F(DvcqgClientTest, EverySuccessCodeProductionUsesIsSuccess) {
  int seq = 0;
  for (const json& code : {json("00"), json("0"), json(0)}) {
    client_.reset();  // no keep-alive connection holds the old simulator's shutdown
    StartSim({}, absl::Minutes(10), code);
    Dossier d = D(++seq, 2);
    CallResult r = Create(d);
    EXPECT_EQ(r.outcome, Outcome::kAccepted) << code << " " << r.message;
    EXPECT_EQ(r.logins, 1);
    ASSERT_EQ(r.items.size(), 1u);
    EXPECT_EQ(r.items[0].outcome, Outcome::kAccepted);
    ProgressStep s = testing::ValidRequest(seq, 2, 100).new_steps(0);
    auto p = client_->UpdateProgress(d.code(), {{&s, 2}});
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].outcome, Outcome::kAccepted) << code;
    LookupResult l = client_->Lookup(d.code());
    EXPECT_EQ(l.call.outcome, Outcome::kAccepted) << code;
    EXPECT_TRUE(l.dossier.has_value()) << code;
    EXPECT_EQ(l.call.error_code, code.is_string() ? code.get<std::string>() : "0");
  }
}

// A fake DVCQG whose login and service answers are given; the client under test points at it.
class FakeDvcqg {
 public:
  FakeDvcqg(std::string login, std::string service) {
    server_.Post("/mapi/login", [login](const httplib::Request&, httplib::Response& res) {
      res.set_content(login, "application/json");
    });
    server_.Post("/mapi/g", [service](const httplib::Request&, httplib::Response& res) {
      res.set_content(service, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeDvcqg() {
    server_.stop();
    thread_.join();
  }
  CallResult Create(ClientConfig c) {
    c.base_url = absl::StrCat("http://127.0.0.1:", port_);
    auto cl = Client::Create(c);
    EXPECT_TRUE(cl.ok());
    Dossier d = testing::ValidRequest(1, 2, 100).dossier();
    return (*cl)->SyncDossiers({{&d, 2}}, false);
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// An answer without error_code is a bad response (retried), never success: at login and on a call.
TEST_F(DvcqgClientTest, AnswerWithoutErrorCodeIsABadResponse) {
  {
    FakeDvcqg fake(R"({"session":"t"})", R"({"error_code":"00","result":[]})");
    CallResult r = fake.Create(client_->config());
    EXPECT_EQ(r.outcome, Outcome::kBadResponse) << r.message;
    EXPECT_TRUE(IsRetryable(r.outcome));
  }
  {
    FakeDvcqg fake(R"({"error_code":"00","session":"t"})", R"({"message":"ok","result":[]})");
    CallResult r = fake.Create(client_->config());
    EXPECT_EQ(r.outcome, Outcome::kBadResponse) << r.message;
    EXPECT_NE(r.message.find("without error_code"), std::string::npos) << r.message;
  }
}

// One production client also required "thành công" in the message: configurable, ignoring case.
TEST_F(DvcqgClientTest, SuccessMessageRuleIsConfigurable) {
  ClientConfig c = client_->config();
  c.success_message = "thành công";
  {
    FakeDvcqg fake(R"({"error_code":"00","message":"Đăng nhập THÀNH CÔNG","session":"t"})",
                   R"({"error_code":"00","message":"ok","result":[]})");
    CallResult r = fake.Create(c);
    EXPECT_EQ(r.outcome, Outcome::kBadResponse) << r.message;
    EXPECT_NE(r.message.find("thành công"), std::string::npos) << r.message;
    c.success_message = "";
    EXPECT_EQ(fake.Create(c).outcome, Outcome::kAccepted) << "the code alone decides by default";
  }
  c.success_message = "thành công";
  c.base_url = sim_->url();
  auto cl = Client::Create(c);
  ASSERT_TRUE(cl.ok());
  Dossier d = D(1, 2);
  EXPECT_EQ((*cl)->SyncDossiers({{&d, 2}}, false).outcome, Outcome::kAccepted)
      << "the simulator answers \"Thành công\"";
  EXPECT_TRUE(ContainsFolded("ĐĂNG NHẬP THÀNH CÔNG", "thành công"));
  EXPECT_TRUE(ContainsFolded("Thành công", "THÀNH CÔNG"));
  EXPECT_FALSE(ContainsFolded("Thất bại", "thành công"));
}

TEST(DvcqgConfigTest, ValidatesAndReadsCredentials) {
  ClientConfig c;
  c.base_url = "ftp://x";
  EXPECT_NE(c.Validate().message().find("--dvcqg_url"), absl::string_view::npos);
  c.base_url = "http://127.0.0.1:8580";
  EXPECT_NE(c.Validate().message().find("credentials"), absl::string_view::npos);
  testing::TempDir dir;
  std::ofstream(dir.File("creds")) << "# DVCQG\nusername=langson\npassword=p w\n";
  auto creds = ReadCredentialsFile(dir.File("creds"));
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->password, "p w");
  c.credentials = *creds;
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.ToJson()["password"], "***");
  std::ofstream(dir.File("bad")) << "user=x\n";
  EXPECT_FALSE(ReadCredentialsFile(dir.File("bad")).ok());
}

}  // namespace
}  // namespace dossiersync::dvcqg
