// The simulator rejects what reference/dvcqg.md says DVCQG rejects, answers malformed and huge
// bodies with a clear error while it keeps serving, and its admin interface works.
#include <httplib.h>
#include <signal.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/dvcqg/mapping.h"
#include "gtest/gtest.h"
#include "services/dvcqg_sim/simulator.h"
#include "tests/test_util.h"

namespace dossiersync::sim {
namespace {

using nlohmann::json;

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimConfig c;
    c.listen = "127.0.0.1:0";
    c.database = "sqlite:" + dir_.File("sim.db");
    auto s = Simulator::Start(c);
    ASSERT_TRUE(s.ok()) << s.status();
    sim_ = std::move(*s);
    http_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    json login =
        Post("/mapi/login", {{"username", "langson"}, {"password", "langson-dev-password"}});
    session_ = login["session"];
  }
  json Post(const std::string& path, const json& body, int* status = nullptr) {
    auto r = http_->Post(path.c_str(), body.dump(), "application/json");
    if (!r) return json();
    if (status) *status = r->status;
    return json::parse(r->body, nullptr, false);
  }
  json Call(const std::string& service, const json& data, const std::string& updating = "False") {
    json body = {
        {"session", session_}, {"madonvi", "000.00.00.H37"}, {"service", service}, {"data", data}};
    if (service == "DongBoHoSoMC") body["isUpdating"] = updating;
    return Post("/mapi/g", body);
  }
  static json Item(int seq, int status = 2) {
    auto d = testing::ValidRequest(seq, status, 1).dossier();
    return dvcqg::DossierToJson(d, status);
  }
  // Asserts a single-item call failed with error_code "2" naming `field`.
  void ExpectRejected(const json& item, const std::string& field) {
    json r = Call("DongBoHoSoMC", json::array({item}));
    EXPECT_EQ(dvcqg::ErrorCodeOf(r), "2") << r.dump();
    ASSERT_TRUE(r["result"].is_array()) << r.dump();
    EXPECT_EQ(r["result"][0]["field"], field) << r.dump();
    EXPECT_NE(r["result"][0]["message"].get<std::string>().find(field), std::string::npos);
  }

  testing::TempDir dir_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<httplib::Client> http_;
  std::string session_;
};

TEST_F(SimTest, CreateOfAnExistingCodeIsError3) {
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({Item(1)}))), "00");
  json r = Call("DongBoHoSoMC", json::array({Item(1)}));
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "3");
  EXPECT_NE(r["message"].get<std::string>().find("đã tồn tại"), std::string::npos);
}

TEST_F(SimTest, UpdateOfAMissingCodeIsError4) {
  json r = Call("DongBoHoSoMC", json::array({Item(1)}), "True");
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "4");
  EXPECT_NE(r["message"].get<std::string>().find("không tồn tại"), std::string::npos);
  r = Call("CapNhatTienDoHoSoMC",
           json::array({dvcqg::StepToJson(Item(1)["MaHoSo"],
                                          testing::ValidRequest(1, 2, 1).new_steps(0), 2)}));
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "4");
}

TEST_F(SimTest, LookupAnswersTheStoredItemWithItsRowsInOrder) {
  auto lookup = [&](const std::string& code) {
    return Post("/mapi/g", {{"session", session_},
                            {"madonvi", "000.00.00.H37"},
                            {"service", "TraCuuHoSo"},
                            {"mahoso", code}});
  };
  json item = Item(1);
  ASSERT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({item}))), "00");
  // No rows yet: an empty QuaTrinhXuLy.
  json r = lookup(item["MaHoSo"]);
  ASSERT_EQ(dvcqg::ErrorCodeOf(r), "00") << r;
  json want = item;
  want["QuaTrinhXuLy"] = json::array();
  ASSERT_EQ(r["result"].size(), 1u) << r;
  EXPECT_EQ(r["result"][0], want);
  // Three rows, in the order they were sent.
  const auto req = testing::ValidRequest(1, 2, 1);
  json rows = json::array();
  for (int k = 0; k < 3; ++k) {
    auto step = req.new_steps(0);
    step.set_content(absl::StrCat("Bước ", k, " \"trích dẫn\" {}"));
    rows.push_back(dvcqg::StepToJson(item["MaHoSo"], step, 2));
  }
  ASSERT_EQ(dvcqg::ErrorCodeOf(Call("CapNhatTienDoHoSoMC", rows)), "00");
  want["QuaTrinhXuLy"] = rows;
  EXPECT_EQ(lookup(item["MaHoSo"])["result"][0], want);
  // A client that sent its own QuaTrinhXuLy in the item gets the stored rows in its place.
  json other = Item(2);
  other["QuaTrinhXuLy"] = json::array({{{"NoiDungXuLy", "gửi kèm"}}});
  ASSERT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({other}))), "00");
  r = lookup(other["MaHoSo"]);
  other["QuaTrinhXuLy"] = json::array();
  EXPECT_EQ(r["result"][0], other);
  // Unknown: an empty result; no mahoso: error 2.
  r = lookup("000.00.13.H37-000000-0000");
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "00");
  EXPECT_EQ(r["result"], json::array());
  r = lookup("");
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "2") << r;
}

TEST_F(SimTest, OverLongText) {
  json item = Item(1);
  item["TrichYeuHoSo"] = std::string(1001, 'a');
  ExpectRejected(item, "TrichYeuHoSo");
  item = Item(1);
  item["ThongTinKhac"] = std::string(2001, 'a');
  ExpectRejected(item, "ThongTinKhac");
  item = Item(1);
  item["TaiLieuNop"] = json::array({{{"TenTepDinhKem", std::string(4001, 'a')}}});
  ExpectRejected(item, "TaiLieuNop.TenTepDinhKem");
  item["TaiLieuNop"] = json::array({{{"TenTepDinhKem", std::string(4000, 'a')}}});
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({item}))), "00");
}

TEST_F(SimTest, MissingMandatoryFieldsAndDates) {
  for (const char* key : {"MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "LoaiDoiTuong",
                          "TrangThaiHoSo", "DonViXuLy"}) {
    json item = Item(1);
    item[key] = "";
    ExpectRejected(item, key);
  }
  json item = Item(1, 2);
  item["NgayTiepNhan"] = "";
  ExpectRejected(item, "NgayTiepNhan");
  item = Item(1, 9);
  item["NgayKetThucXuLy"] = "";
  ExpectRejected(item, "NgayKetThucXuLy");
  item = Item(1, 10);
  item["NgayTra"] = "";
  ExpectRejected(item, "NgayTra");
  item = Item(1, 3);
  item["NgayTuChoi"] = "";
  ExpectRejected(item, "NgayTuChoi");
}

TEST_F(SimTest, BadCodesDatesAndTypes) {
  json item = Item(1);
  item["TrangThaiHoSo"] = "11";
  ExpectRejected(item, "TrangThaiHoSo");
  item = Item(1);
  item["LoaiDoiTuong"] = "5";
  ExpectRejected(item, "LoaiDoiTuong");
  item = Item(1);
  item["NgayNopHoSo"] = "2024-07-05";
  ExpectRejected(item, "NgayNopHoSo");
  item = Item(1);
  item["TrangThaiHoSo"] = 2;  // a number, not a string
  ExpectRejected(item, "TrangThaiHoSo");
  item = Item(1);
  item["MaHoSo"] = "HS-0001";
  ExpectRejected(item, "MaHoSo");
}

TEST_F(SimTest, BatchAndChunkLimits) {
  json data = json::array();
  for (int i = 0; i < 51; ++i) data.push_back(Item(i + 1));
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", data)), "2");
  data.erase(data.begin());
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", data)), "00");
  json rows = json::array();
  for (int i = 0; i < 11; ++i) {
    rows.push_back(
        dvcqg::StepToJson(Item(2)["MaHoSo"], testing::ValidRequest(2, 2, i + 1).new_steps(0), 2));
  }
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("CapNhatTienDoHoSoMC", rows)), "2");
  rows.erase(rows.begin());
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("CapNhatTienDoHoSoMC", rows)), "00");
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array())), "2");
  json r = Call("DongBoHoSoMC", json::array({Item(99)}), "maybe");
  EXPECT_NE(r["message"].get<std::string>().find("isUpdating"), std::string::npos);
}

TEST_F(SimTest, SessionRequired) {
  json r = Post("/mapi/g", {{"session", "nope"}, {"service", "TraCuuHoSo"}, {"mahoso", "x"}});
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "401");
  EXPECT_EQ(r["message"], "Phiên làm việc không hợp lệ");
  r = Post("/mapi/login", {{"username", "langson"}, {"password", "wrong"}});
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "1");
  EXPECT_FALSE(r.contains("session"));
}

TEST_F(SimTest, MalformedJsonAndHugeBodiesGetClearErrorsAndTheServerKeepsServing) {
  auto r = http_->Post("/mapi/g", "{\"session\": ", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("malformed JSON"), std::string::npos);
  r = http_->Post("/mapi/login", "[1,2", "application/json");
  EXPECT_EQ(r->status, 400);
  std::string huge(9 * 1024 * 1024, ' ');
  r = http_->Post("/mapi/g", huge, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("request body over"), std::string::npos);
  r = http_->Post("/mapi/g", std::string("\xff\xfe\x00\x01", 4), "application/json");
  EXPECT_EQ(r->status, 400);
  json unknown = Post("/mapi/g", {{"session", session_}, {"service", "XoaHoSo"}});
  EXPECT_EQ(dvcqg::ErrorCodeOf(unknown), "2");
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({Item(7)}))), "00");
}

TEST_F(SimTest, AdminFaultsTamperHistoryStatsReset) {
  int status = 0;
  json bad = Post("/admin/faults", {{"error_503_rate", 2}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(bad["message"].get<std::string>().find("error_503_rate"), std::string::npos);
  Post("/admin/faults", {{"nonsense", 1}}, &status);
  EXPECT_EQ(status, 400);
  json f = Post("/admin/faults", {{"latency_ms", 5}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(f["latency_ms"], 5);

  ASSERT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({Item(1, 2)}))), "00");
  std::string code = Item(1)["MaHoSo"];
  ASSERT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({Item(1, 4)}), "True")), "00");
  Post("/admin/tamper/" + code, {{"TrangThaiHoSo", "9"}}, &status);
  EXPECT_EQ(status, 200);
  Post("/admin/tamper/000.00.13.H37-240705-9999", {{"TrangThaiHoSo", "9"}}, &status);
  EXPECT_EQ(status, 404);
  auto got = http_->Get(("/admin/dossiers/" + code).c_str());
  EXPECT_EQ(json::parse(got->body)["TrangThaiHoSo"], "9");
  json h = json::parse(http_->Get(("/admin/history/" + code).c_str())->body)["history"];
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0]["service"], "DongBoHoSoMC");
  EXPECT_EQ(h[0]["is_update"], false);
  EXPECT_EQ(h[1]["item"]["TrangThaiHoSo"], "4");
  EXPECT_EQ(h[2]["service"], "tamper");
  json stats = json::parse(http_->Get("/admin/stats")->body);
  EXPECT_EQ(stats["store"]["dossiers"], 1);
  EXPECT_EQ(stats["outcomes"]["DongBoHoSoMC"]["0"], 2);
  EXPECT_EQ(stats["logins"], 1);
  Post("/admin/reset", json::object(), &status);
  EXPECT_EQ(status, 200);
  stats = json::parse(http_->Get("/admin/stats")->body);
  EXPECT_EQ(stats["store"]["dossiers"], 0);
  EXPECT_EQ(stats["faults"]["latency_ms"], 0);
  EXPECT_EQ(http_->Get(("/admin/dossiers/" + code).c_str())->status, 404);
  json r = Call("DongBoHoSoMC", json::array({Item(1)}));
  EXPECT_EQ(dvcqg::ErrorCodeOf(r), "401") << "reset ends every session";
}

TEST(SimBinaryTest, FaultsFlagAndUrlFile) {
  testing::TempDir dir;
  testing::Process p({testing::BinaryPath("dvcqg-sim"), "--listen=127.0.0.1:0",
                      "--database=sqlite:" + dir.File("sim.db"), "--url_file=" + dir.File("url"),
                      R"(--faults={"error_503_rate":0.25,"retry_after_s":3})"},
                     dir.File("log"));
  ASSERT_TRUE(testing::WaitFor([&] { return std::ifstream(dir.File("url")).good(); }));
  std::string url;
  std::getline(std::ifstream(dir.File("url")), url);
  httplib::Client c(url);
  auto r = c.Get("/admin/faults");
  ASSERT_TRUE(r);
  json f = json::parse(r->body);
  EXPECT_EQ(f["error_503_rate"], 0.25);
  EXPECT_EQ(f["retry_after_s"], 3);
  p.Kill(SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
}

TEST_F(SimTest, DossierctlDvcqgLookup) {
  ASSERT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({Item(1, 2)}))), "00");
  std::ofstream(dir_.File("creds")) << "username=langson\npassword=langson-dev-password\n";
  auto run = [&](const std::string& code, const std::string& log) {
    testing::Process p(
        {testing::BinaryPath("dossierctl"), "dvcqg", "lookup", code, "--dvcqg_url=" + sim_->url(),
         "--dvcqg_credentials_file=" + dir_.File("creds")},
        dir_.File(log));
    return p.Wait();
  };
  EXPECT_EQ(run(Item(1)["MaHoSo"], "found.log"), 0);
  std::ifstream in(dir_.File("found.log"));
  json out = json::parse(in);
  EXPECT_EQ(out["found"], true);
  EXPECT_EQ(out["dvcqg"]["TrangThaiHoSo"], "2");
  EXPECT_EQ(run("000.00.13.H37-240705-9999", "missing.log"), 3);
}

// The success code is configurable, "00" by default (what OpenCPS checks for), for every answer:
// login, writes and their items, lookups (both the fast path and the general one).
TEST(SimSuccessCodeTest, EveryAnswerCarriesTheConfiguredCode) {
  for (const json& code : {json("00"), json("0"), json(0)}) {
    testing::TempDir dir;
    SimConfig c;
    c.listen = "127.0.0.1:0";
    c.database = "sqlite:" + dir.File("sim.db");
    c.success_code = code;
    auto sim = Simulator::Start(c);
    ASSERT_TRUE(sim.ok());
    httplib::Client h("127.0.0.1", (*sim)->port());
    auto post = [&](const json& body) {
      auto r = h.Post(body.contains("username") ? "/mapi/login" : "/mapi/g", body.dump(),
                      "application/json");
      return r ? json::parse(r->body, nullptr, false) : json();
    };
    json login = post({{"username", "langson"}, {"password", "langson-dev-password"}});
    EXPECT_EQ(login["error_code"], code);
    std::string session = login["session"];
    auto d = testing::ValidRequest(1, 2, 1);
    json w = post({{"session", session},
                   {"service", "DongBoHoSoMC"},
                   {"isUpdating", "False"},
                   {"data", json::array({dvcqg::DossierToJson(d.dossier(), 2)})}});
    EXPECT_EQ(w["error_code"], code) << w;
    EXPECT_EQ(w["result"][0]["error_code"], code) << w;
    json l =
        post({{"session", session}, {"service", "TraCuuHoSo"}, {"mahoso", d.dossier().code()}});
    EXPECT_EQ(l["error_code"], code) << l;
    json missing = post({{"session", session}, {"service", "TraCuuHoSo"}, {"mahoso", ""}});
    EXPECT_EQ(missing["error_code"], "2");
  }
  SimConfig c;
  EXPECT_EQ(c.success_code, "00");
  EXPECT_TRUE(c.ParseSuccessCode("0").ok());
  EXPECT_EQ(c.success_code, json(0));
  EXPECT_TRUE(c.ParseSuccessCode("\"0\"").ok());
  EXPECT_EQ(c.success_code, "0");
  EXPECT_TRUE(c.ParseSuccessCode("00").ok());
  EXPECT_EQ(c.success_code, "00");
  absl::Status bad = c.ParseSuccessCode("ok");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("--success_code"), absl::string_view::npos);
}

TEST_F(SimTest, ScoredFieldsAreCheckedAndStored) {
  json item = Item(1, 2);
  item["HoSoCoThanhPhanSoHoa"] = "1";
  item["TaiKhoanDuocXacThucVoiVNeID"] = "1";
  item["DuocThanhToanTrucTuyen"] = "2";
  ASSERT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({item}))), "00");
  auto stored = http_->Get(absl::StrCat("/admin/dossiers/", item["MaHoSo"].get<std::string>()));
  ASSERT_TRUE(stored);
  json got = json::parse(stored->body);
  EXPECT_EQ(got["DuocThanhToanTrucTuyen"], "2");
  EXPECT_EQ(got["TaiKhoanDuocXacThucVoiVNeID"], "1");
  for (const char* key : {"HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID"}) {
    json bad = Item(2, 2);
    bad[key] = "2";
    ExpectRejected(bad, key);
  }
  json bad = Item(3, 2);
  bad["DuocThanhToanTrucTuyen"] = "4";
  ExpectRejected(bad, "DuocThanhToanTrucTuyen");
  bad = Item(3, 2);
  bad["TaiLieuNop"] = json::array({{{"TepDinhKemId", "x"}, {"DuocSoHoa", "có"}}});
  ExpectRejected(bad, "DuocSoHoa");
  bad = Item(3, 2);
  bad["DanhSachHoSoBoSung"] = json::array({{{"HoSoBoSungId", "1"}, {"NgayBoSung", "06/07/2024"}}});
  ExpectRejected(bad, "DanhSachHoSoBoSung.NgayBoSung");
  bad = Item(3, 2);
  bad["DinhDanhCHS"] = json::array({{{"LoaiDinhDanh", "3"}, {"SoDinhDanh", "020123456789"}}});
  ExpectRejected(bad, "DinhDanhCHS");
  bad["DinhDanhCHS"] = json::array({{{"LoaiDinhDanh", "3"}, {"SoDinhDanh", "4900123456-001"}}});
  EXPECT_EQ(dvcqg::ErrorCodeOf(Call("DongBoHoSoMC", json::array({bad}))), "00");
}

TEST(SimBinaryTest, BadFaultsFlagFailsFast) {
  testing::TempDir dir;
  testing::Process p({testing::BinaryPath("dvcqg-sim"), R"(--faults={"hang_rate":"lots"})"},
                     dir.File("log"));
  EXPECT_EQ(p.Wait(), 2);
}

}  // namespace
}  // namespace dossiersync::sim
