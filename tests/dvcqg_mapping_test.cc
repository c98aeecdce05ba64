// The Dossier/ProgressStep <-> DVCQG JSON mapping against golden vectors (tests/golden/), and its
// rules: strings only, UTC+7 dates, absent dates "", code tables, truncation at the limits.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/dvcqg/mapping.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tools/dossierctl/workload.h"

namespace dossiersync::dvcqg {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::ProgressStep;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

google::protobuf::Timestamp Utc(int y, int mo, int d, int h, int mi, int s) {
  absl::Time t = absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
  return TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(t));
}

std::string GoldenDir() {
  const char* dir = std::getenv("DOSSIERSYNC_GOLDEN_DIR");
  return dir ? dir : DS_GOLDEN_DIR;
}

// Compares with tests/golden/NAME. DOSSIERSYNC_UPDATE_GOLDEN=1 rewrites the file instead (then
// review the diff by hand against reference/dvcqg.md before committing it).
void ExpectGolden(const std::string& name, const json& actual) {
  std::string path = GoldenDir() + "/" + name;
  if (std::getenv("DOSSIERSYNC_UPDATE_GOLDEN")) {
    std::ofstream(path) << actual.dump(2) << "\n";
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(actual, json::parse(ss.str())) << "golden " << path;
}

Dossier FullDossier() {
  Dossier d;
  d.set_code("000.00.13.H37-240705-0001");
  d.set_procedure_code("1.001193");
  d.set_procedure_name("Đăng ký khai sinh");
  d.set_field_code("HT");
  d.set_field_name("Hộ tịch");
  d.set_agency_code("000.00.13.H37");
  d.set_agency_name("Sở Tư pháp tỉnh Lạng Sơn");
  d.set_receipt_number("BN-0000001");
  auto* a = d.mutable_applicant();
  a->set_name("Hoàng Thị Ngọc Ánh");
  a->set_kind(dossiersync::v1::APPLICANT_KIND_CITIZEN);
  a->set_id_number("020123456789");
  a->set_id_kind(dossiersync::v1::ID_KIND_CCCD);
  a->set_email("anh.ht@example.vn");
  a->set_phone("0912345678");
  a->set_account_id("DVCQG-0000012345");
  a->set_vneid_verified(true);
  d.set_has_digitised_components(true);
  d.set_online_payment(dossiersync::v1::ONLINE_PAYMENT_PROVINCIAL_GATEWAY);
  d.add_national_databases("CSDLQGDC");
  d.set_submission_place("2");
  d.set_summary("Đăng ký khai sinh cho con: Nông Văn Đức");
  d.set_channel(dossiersync::v1::CHANNEL_ONLINE);
  d.set_status(dossiersync::v1::DOSSIER_STATUS_RETURNED);
  *d.mutable_submitted_at() = Utc(2024, 7, 5, 1, 0, 0);  // 08:00 in Lạng Sơn
  *d.mutable_received_at() = Utc(2024, 7, 5, 2, 30, 15);
  *d.mutable_due_at() = Utc(2024, 7, 19, 10, 0, 0);
  *d.mutable_finished_at() = Utc(2024, 7, 8, 16, 59, 59);  // 23:59:59 local
  *d.mutable_returned_at() = Utc(2024, 7, 8, 17, 0, 0);    // next day, 00:00 local
  d.set_result_delivery(dossiersync::v1::RESULT_DELIVERY_BY_POST);
  d.set_return_info("Gửi qua bưu điện");
  d.set_other_info("");
  auto* f = d.add_attachments();
  f->set_id("TL1");
  f->set_name("Tờ khai đăng ký khai sinh.pdf");
  f->set_component_code("TP01");
  f->set_url("https://dichvucong.langson.gov.vn/files/TL1.pdf");
  f->set_digitised(true);
  f->set_from_national_warehouse(true);
  f->set_replacement_result_code("KQ.2023.77");
  auto* f2 = d.add_attachments();
  f2->set_id("TL2");
  f2->set_name("Giấy chứng sinh.pdf");
  f2->set_component_code("TP02");
  f2->set_url("https://dichvucong.langson.gov.vn/files/TL2.pdf");
  f2->set_reused(true);
  auto* r = d.add_result_documents();
  r->set_id("KQ1");
  r->set_name("Giấy khai sinh (bản chính)");
  r->set_component_code("KQ01");
  r->set_url("https://dichvucong.langson.gov.vn/ketqua/KQ1.pdf");
  r->set_result_code("KQ.1.001193.1");
  auto* fee = d.add_fees();
  fee->set_code("LP01");
  fee->set_name("Lệ phí đăng ký khai sinh");
  fee->set_amount_vnd(8000);
  fee->set_collection_method("Trực tuyến");
  fee->set_kind("1");
  auto* s = d.add_supplements();
  s->set_id("BS1");
  s->set_content("Bổ sung giấy chứng sinh");
  s->set_requested_by("Nông Văn Quý");
  *s->mutable_requested_at() = Utc(2024, 7, 6, 3, 0, 0);
  s->set_received_by("Bộ phận Một cửa");
  s->set_reception_info("Đã nhận bản chính");
  *s->mutable_completed_at() = Utc(2024, 7, 7, 2, 0, 0);
  *s->mutable_previous_due_at() = Utc(2024, 7, 19, 10, 0, 0);
  *s->mutable_new_due_at() = Utc(2024, 7, 22, 10, 0, 0);
  auto* sd = s->add_documents();
  sd->set_id("BS1-1");
  sd->set_name("Giấy chứng sinh (bản chính).pdf");
  sd->set_url("https://dichvucong.langson.gov.vn/files/BS1-1.pdf");
  sd->set_digitised(true);
  auto* sf = s->add_fees();
  sf->set_code("LP02");
  sf->set_name("Phí sao y");
  sf->set_amount_vnd(2000);
  return d;
}

TEST(DvcqgMappingTest, FullDossierMatchesGolden) {
  Dossier d = FullDossier();
  ExpectGolden("dvcqg_full_dossier.json", DossierToJson(d, d.status()));
}

TEST(DvcqgMappingTest, AbsentDatesAreEmptyStrings) {
  Dossier d;
  d.set_code("000.00.13.H37-240705-0002");
  d.set_procedure_code("2.000794");
  d.set_procedure_name("Chứng thực bản sao từ bản chính");
  d.set_field_code("CT");
  d.set_field_name("Chứng thực");
  d.set_agency_name("UBND huyện Cao Lộc");
  d.mutable_applicant()->set_kind(dossiersync::v1::APPLICANT_KIND_BUSINESS);
  d.set_status(dossiersync::v1::DOSSIER_STATUS_SUBMITTED);
  d.set_channel(dossiersync::v1::CHANNEL_POSTAL);
  ExpectGolden("dvcqg_absent_dates.json", DossierToJson(d, 1));
}

TEST(DvcqgMappingTest, StepMatchesGolden) {
  ProgressStep s;
  s.set_step_id("s2");
  s.set_officer("Nông Văn Quý");
  s.set_officer_title("Chuyên viên");
  s.set_department("Bộ phận Một cửa");
  s.set_content("Tiếp nhận hồ sơ, kiểm tra thành phần hợp lệ");
  s.set_status(dossiersync::v1::DOSSIER_STATUS_ACCEPTED);
  *s.mutable_occurred_at() = Utc(2024, 7, 5, 2, 30, 15);
  *s.mutable_started_at() = Utc(2024, 7, 5, 2, 0, 0);
  ExpectGolden("dvcqg_step.json", StepToJson("000.00.13.H37-240705-0001", s, 2));
}

TEST(DvcqgMappingTest, NationalStepKeysReadEveryRowOfALookupAndSkipWhatIsMalformed) {
  ProgressStep s;
  s.set_officer("Nông Văn Quý");
  s.set_content("Tiếp nhận");
  *s.mutable_occurred_at() = Utc(2024, 7, 5, 2, 30, 15);
  const json row = StepToJson("C1", s, 2);
  const json response = {
      {"result",
       json::array({{{"MaHoSo", "C1"}, {"QuaTrinhXuLy", json::array({row, row, "not a row"})}},
                    {{"MaHoSo", "C2"}, {"QuaTrinhXuLy", "not an array"}},
                    "not an item"})}};
  std::multiset<std::string> keys = NationalStepKeys(response);
  EXPECT_EQ(keys.count(StepRowKey(s, 2)), 2u);  // the same row twice is kept twice
  EXPECT_EQ(keys.size(), 3u);                   // "not a row" has the empty key
  EXPECT_TRUE(NationalStepKeys(json::object()).empty());
  EXPECT_TRUE(NationalStepKeys(json{{"result", "x"}}).empty());
}

TEST(DvcqgMappingTest, EveryScalarIsAString) {
  json j = DossierToJson(FullDossier(), 10);
  std::function<void(const json&)> check = [&](const json& v) {
    if (v.is_object() || v.is_array()) {
      for (const auto& e : v) check(e);
    } else {
      EXPECT_TRUE(v.is_string()) << v.dump();
    }
  };
  check(j);
}

TEST(DvcqgMappingTest, StatusComesFromTheMappingNotTheDossier) {
  EXPECT_EQ(DossierToJson(FullDossier(), 4)["TrangThaiHoSo"], "4");
}

TEST(DvcqgMappingTest, DatesAreHanoiTime) {
  EXPECT_EQ(FormatDate(Utc(2024, 12, 31, 17, 0, 0)), "20250101000000");
  EXPECT_EQ(FormatDate(google::protobuf::Timestamp()), "");
  auto t = ParseDate("20250101000000");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->seconds(), Utc(2024, 12, 31, 17, 0, 0).seconds());
  for (const char* bad :
       {"2025010100000", "2025-01-01 00:0", "20251301000000", "20250230120000", "2025010100000x",
        // Found by fuzz/dvcqg_json_fuzz: year 0000 made TimeUtil abort the process.
        "00000424022851", "00010101000000", "18991231235959"}) {
    EXPECT_FALSE(ParseDate(bad).ok()) << bad;
  }
}

TEST(DvcqgMappingTest, TruncatesAtEachLimitOnCharacterBoundaries) {
  std::string viet1001;
  for (int i = 0; i < 1001; ++i) viet1001 += "ộ";  // 3 bytes each
  MappingStats stats;
  EXPECT_EQ(TruncateChars(viet1001, 1000, &stats).size(), 3000u);
  EXPECT_EQ(stats.truncated_fields, 1);
  EXPECT_EQ(TruncateChars("abc", 3, &stats), "abc");
  EXPECT_EQ(stats.truncated_fields, 1);

  Dossier d = FullDossier();
  d.set_summary(viet1001);
  d.mutable_attachments(0)->set_name(std::string(4001, 'a'));
  d.mutable_result_documents(0)->set_name(std::string(2001, 'b'));
  d.set_return_info(std::string(2001, 'c'));
  stats = {};
  json j = DossierToJson(d, 10, {}, &stats);
  EXPECT_EQ(j["TrichYeuHoSo"].get<std::string>(), viet1001.substr(0, 3000));
  EXPECT_EQ(j["TaiLieuNop"][0]["TenTepDinhKem"].get<std::string>().size(), 4000u);
  EXPECT_EQ(j["DanhSachGiayToKetQua"][0]["TenGiayTo"].get<std::string>().size(), 2000u);
  EXPECT_EQ(j["ThongTinTra"].get<std::string>().size(), 2000u);
  EXPECT_EQ(stats.truncated_fields, 4);

  ProgressStep s;
  s.set_officer("Hoàng Thị Ngọc Ánh Hoàng Thị Ngọc Ánh Hoàng Thị Ngọc Ánh");  // 56 characters
  s.set_content(std::string(2001, 'x'));
  stats = {};
  json row = StepToJson("c", s, 4, {}, &stats);
  EXPECT_EQ(row["NguoiXuLy"], "Hoàng Thị Ngọc Ánh Hoàng Thị Ngọc Ánh Hoàng Thị Ng");  // 50
  EXPECT_EQ(row["NoiDungXuLy"].get<std::string>().size(), 2000u);
  EXPECT_EQ(stats.truncated_fields, 2);
}

// Reconciliation compares CompareFieldsOf / StepRowKey instead of whole documents: they must say
// exactly what DossierToJson / StepToJson send, truncation and dates included.
void ExpectComparedAsSent(const Dossier& d, const MappingOptions& lim) {
  const json j = DossierToJson(d, d.status(), lim);
  const ComparedFields f = CompareFieldsOf(d, lim);
  for (size_t i = 0; i < kComparedDates.size(); ++i) {
    EXPECT_EQ(f.dates[i], j[kComparedDates[i]].get<std::string>()) << kComparedDates[i];
  }
  for (size_t i = 0; i < kComparedIdentity.size(); ++i) {
    EXPECT_EQ(f.identity[i], j[kComparedIdentity[i]].get<std::string>()) << kComparedIdentity[i];
  }
  // The scored fields, read from the document as reference/dvcqg.md names them.
  auto join = [&](const char* list, std::vector<const char*> keys) {
    std::string out;
    for (const auto& item : j[list]) {
      if (!out.empty()) out += ";";
      for (size_t k = 0; k < keys.size(); ++k) {
        out += (k ? "|" : "") + item[keys[k]].get<std::string>();
      }
    }
    return out;
  };
  const std::array<std::string, 9> sent = {
      j["KenhThucHien"].get<std::string>(),
      j["HoSoCoThanhPhanSoHoa"].get<std::string>(),
      j["DuocThanhToanTrucTuyen"].get<std::string>(),
      j["TaiKhoanDuocXacThucVoiVNeID"].get<std::string>(),
      join("DSKetNoiCSDL", {"MaCSDL"}),
      join("TaiLieuNop", {"DuocSoHoa", "DuocTaiSuDung", "DuocLayTuKhoDMQG"}),
      join("DanhSachGiayToKetQua", {"DuongDanTepTinKetQua", "MaGiayToKetQua"}),
      join("DanhSachLePhi", {"Gia"}),
      join("DanhSachHoSoBoSung", {"NgayBoSung", "NgayTiepNhanBoSung"})};
  for (size_t i = 0; i < kComparedScored.size(); ++i) {
    EXPECT_EQ(f.scored[i], sent[i]) << kComparedScored[i];
  }
  for (const auto& s : d.steps()) {
    const json row = StepToJson(d.code(), s, s.status() + 1, lim);
    const std::string sent =
        row["ThoiDiemXuLy"].get<std::string>() + "|" + row["NguoiXuLy"].get<std::string>() + "|" +
        row["NoiDungXuLy"].get<std::string>() + "|" + row["TrangThai"].get<std::string>();
    EXPECT_EQ(StepRowKey(s, s.status() + 1, lim), sent);
    EXPECT_EQ(StepRowKey(row), sent);
  }
}

TEST(DvcqgMappingTest, ComparedFieldsAndRowKeysAreWhatIsSent) {
  Dossier d = FullDossier();
  ExpectComparedAsSent(d, {});
  // Over the limits (names and agency truncated, officer at 50), unset dates, a step.
  std::string long_name;
  for (int i = 0; i < 2100; ++i) long_name += "ă";
  d.set_procedure_name(long_name);
  d.set_agency_name(long_name);
  d.clear_received_at();
  auto* s = d.add_steps();
  s->set_officer("Hoàng Thị Ngọc Ánh Hoàng Thị Ngọc Ánh Hoàng Thị Ngọc Ánh");
  s->set_content(long_name);
  s->set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  *s->mutable_occurred_at() = Utc(2024, 7, 5, 17, 0, 0);
  ExpectComparedAsSent(d, {});
  MappingOptions small;
  small.text = 7;
  small.officer = 3;
  ExpectComparedAsSent(d, small);
  EXPECT_EQ(CompareFieldsOf(d, small).identity[1], "ăăăăăăă");
  // Every snapshot of generated Lạng Sơn lifecycles.
  tools::WorkloadOptions o;
  o.now = absl::FromUnixSeconds(1'790'000'000);
  tools::Workload w(o);
  int snapshots = 0;
  for (int i = 0; i < 50; ++i) {
    for (const auto& change : w.Lifecycle(i)) {
      ExpectComparedAsSent(change.dossier(), {});
      ++snapshots;
    }
  }
  EXPECT_GT(snapshots, 150);
}

TEST(DvcqgMappingTest, RoundTripsThroughTraCuuHoSoShape) {
  Dossier d = FullDossier();
  json j = DossierToJson(d, d.status());
  ProgressStep s;
  s.set_officer("Vi Thị Hoa");
  s.set_content("Trả kết quả");
  s.set_status(dossiersync::v1::DOSSIER_STATUS_RETURNED);
  *s.mutable_occurred_at() = Utc(2024, 7, 8, 17, 0, 0);
  j["QuaTrinhXuLy"] = json::array({StepToJson(d.code(), s, 10)});
  auto back = DossierFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status();
  // Fields DVCQG does not carry are not expected back; every scored field, fee and supplement is.
  Dossier expect = d;
  expect.clear_agency_code();
  expect.clear_revision();
  *expect.add_steps() = s;
  Dossier got = *back;
  std::string diff;
  google::protobuf::util::MessageDifferencer md;
  md.ReportDifferencesToString(&diff);
  EXPECT_TRUE(md.Compare(expect, got)) << diff;
}

// Found by fuzz/dvcqg_json_fuzz: an item whose id number is only in DinhDanhCHS lost it (and
// kept a kind without a number, which the mapping cannot send back).
TEST(DvcqgMappingTest, IdNumberOnlyInDinhDanhChsIsReadAndSurvivesARoundTrip) {
  json j = DossierToJson(FullDossier(), 10);
  j.erase("SoGiayToChuHoSo");
  auto d = DossierFromJson(j);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->applicant().id_number(), "020123456789");
  EXPECT_EQ(d->applicant().id_kind(), dossiersync::v1::ID_KIND_CCCD);
  auto again = DossierFromJson(DossierToJson(*d, d->status()));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equivalent(*d, *again));
  // A number without DinhDanhCHS: the kind is inferred as on the way out (9 digits: CMND).
  json only = DossierToJson(FullDossier(), 10);
  only.erase("DinhDanhCHS");
  only["SoGiayToChuHoSo"] = "020123456";
  auto cmnd = DossierFromJson(only);
  ASSERT_TRUE(cmnd.ok());
  EXPECT_EQ(cmnd->applicant().id_kind(), dossiersync::v1::ID_KIND_CMND);
  // A kind without any number is no identity at all.
  j["DinhDanhCHS"] = json::array({{{"LoaiDinhDanh", "1"}, {"SoDinhDanh", ""}}});
  d = DossierFromJson(j);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->applicant().id_kind(), dossiersync::v1::ID_KIND_UNSPECIFIED);
}

TEST(DvcqgMappingTest, MalformedLookupItemsNameTheField) {
  json j = DossierToJson(FullDossier(), 10);
  j["NgayTiepNhan"] = "05/07/2024";
  EXPECT_NE(DossierFromJson(j).status().message().find("NgayTiepNhan"), absl::string_view::npos);
  j = DossierToJson(FullDossier(), 10);
  j["TrangThaiHoSo"] = "11";
  EXPECT_NE(DossierFromJson(j).status().message().find("TrangThaiHoSo"), absl::string_view::npos);
  j = DossierToJson(FullDossier(), 10);
  j["TaiLieuNop"] = "none";
  EXPECT_FALSE(DossierFromJson(j).ok());
  EXPECT_FALSE(DossierFromJson(json::array()).ok());
}

TEST(DvcqgMappingTest, ErrorCodeAsNumberOrString) {
  EXPECT_EQ(ErrorCodeOf(json{{"error_code", 0}}), "0");
  EXPECT_EQ(ErrorCodeOf(json{{"error_code", "0"}}), "0");
  EXPECT_EQ(ErrorCodeOf(json{{"error_code", "00"}}), "00");
  EXPECT_EQ(ErrorCodeOf(json{{"error_code", "401"}}), "401");
  EXPECT_EQ(ErrorCodeOf(json::object()), "");
}

// reference/dvcqg.md §3: 0, "0" and "00" are success; an absent code is not.
TEST(DvcqgMappingTest, SuccessCodes) {
  for (const json& code : {json(0), json("0"), json("00")}) {
    EXPECT_TRUE(IsSuccessCode(ErrorCodeOf(json{{"error_code", code}}))) << code;
  }
  for (const json& code : {json("000"), json(1), json("2"), json(""), json(nullptr)}) {
    EXPECT_FALSE(IsSuccessCode(ErrorCodeOf(json{{"error_code", code}}))) << code;
  }
  EXPECT_FALSE(IsSuccessCode(ErrorCodeOf(json::object())));
}

// Businesses by enterprise / tax code: LoaiDinhDanh from configuration both ways, the kind
// inferred from the number's shape when absent.
TEST(DvcqgMappingTest, EnterpriseIdentityUsesTheConfiguredKind) {
  Dossier d = FullDossier();
  d.mutable_applicant()->set_kind(dossiersync::v1::APPLICANT_KIND_BUSINESS);
  d.mutable_applicant()->set_id_number("4900123456-001");
  d.mutable_applicant()->set_id_kind(dossiersync::v1::ID_KIND_ENTERPRISE);
  json j = DossierToJson(d, 10);
  EXPECT_EQ(j["DinhDanhCHS"][0]["LoaiDinhDanh"], "3");
  EXPECT_EQ(j["DinhDanhCHS"][0]["SoDinhDanh"], "4900123456-001");
  MappingOptions o;
  o.enterprise_id_kind = "MST";
  json k = DossierToJson(d, 10, o);
  EXPECT_EQ(k["DinhDanhCHS"][0]["LoaiDinhDanh"], "MST");
  auto back = DossierFromJson(k, o);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->applicant().id_kind(), dossiersync::v1::ID_KIND_ENTERPRISE);
  // Read with the default kind, "MST" is an unknown LoaiDinhDanh, named.
  EXPECT_NE(DossierFromJson(k).status().message().find("LoaiDinhDanh"), absl::string_view::npos);
  d.mutable_applicant()->set_id_kind(dossiersync::v1::ID_KIND_UNSPECIFIED);
  d.mutable_applicant()->set_id_number("4900123456");
  EXPECT_EQ(DossierToJson(d, 10)["DinhDanhCHS"][0]["LoaiDinhDanh"], "3");
  EXPECT_EQ(InferIdKind("4900123456"), dossiersync::v1::ID_KIND_ENTERPRISE);
  EXPECT_EQ(InferIdKind("4900123456-001"), dossiersync::v1::ID_KIND_ENTERPRISE);
  EXPECT_EQ(InferIdKind("020123456"), dossiersync::v1::ID_KIND_CMND);
  EXPECT_EQ(InferIdKind("020123456789"), dossiersync::v1::ID_KIND_CCCD);
  EXPECT_FALSE(IsEnterpriseCode("4900123456-01"));
  EXPECT_FALSE(IsEnterpriseCode("49001234a6"));
}

TEST(DvcqgMappingTest, MalformedScoredFieldsNameTheField) {
  for (const char* key : {"HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID"}) {
    json j = DossierToJson(FullDossier(), 10);
    j[key] = "2";
    EXPECT_NE(DossierFromJson(j).status().message().find(key), absl::string_view::npos) << key;
  }
  json j = DossierToJson(FullDossier(), 10);
  j["DuocThanhToanTrucTuyen"] = "4";
  EXPECT_NE(DossierFromJson(j).status().message().find("DuocThanhToanTrucTuyen"),
            absl::string_view::npos);
  j = DossierToJson(FullDossier(), 10);
  j["TaiLieuNop"][0]["DuocSoHoa"] = "yes";
  EXPECT_NE(DossierFromJson(j).status().message().find("DuocSoHoa"), absl::string_view::npos);
  j = DossierToJson(FullDossier(), 10);
  j["DanhSachHoSoBoSung"][0]["NgayBoSung"] = "06/07/2024";
  EXPECT_NE(DossierFromJson(j).status().message().find("NgayBoSung"), absl::string_view::npos);
  j = DossierToJson(FullDossier(), 10);
  j["DanhSachLePhi"][0]["Gia"] = "-5";
  EXPECT_NE(DossierFromJson(j).status().message().find("Gia"), absl::string_view::npos);
}

}  // namespace
}  // namespace dossiersync::dvcqg
