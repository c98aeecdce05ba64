#include "common/dvcqg/mapping.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::dvcqg {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::ProgressStep;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

const absl::TimeZone& Hanoi() {
  static const absl::TimeZone tz = absl::FixedTimeZone(7 * 3600);
  return tz;
}

bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

std::string Str(int64_t v) { return absl::StrCat(v); }

// Reads a string member ("" when absent); non-strings are a protocol error.
absl::StatusOr<std::string> Get(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return absl::StrCat(it->get<int64_t>());
  return FieldError(key, "must be a string");
}

absl::StatusOr<int> GetCode(const json& j, const char* key, int min, int max, bool allow_empty) {
  auto s = Get(j, key);
  if (!s.ok()) return s.status();
  if (s->empty() && allow_empty) return 0;
  int v = 0;
  if (!absl::SimpleAtoi(*s, &v) || v < min || v > max) {
    return FieldError(key, absl::StrCat("must be a code ", min, "-", max));
  }
  return v;
}

// Sets msg->*field from a yyyyMMddHHmmss member; an absent or "" date leaves it unset.
template <typename M>
absl::Status SetDate(const json& j, const char* key, M* msg, Timestamp* (M::*field)()) {
  DS_ASSIGN_OR_RETURN(auto s, Get(j, key));
  if (s.empty()) return absl::OkStatus();
  auto t = ParseDate(s);
  if (!t.ok()) return FieldError(key, t.status().message());
  *(msg->*field)() = *t;
  return absl::OkStatus();
}

// A "0"/"1" flag ("" or absent: 0).
absl::StatusOr<bool> GetFlag(const json& j, const char* key) {
  DS_ASSIGN_OR_RETURN(auto v, GetCode(j, key, 0, 1, true));
  return v == 1;
}

// Calls `read(item)` for each object of the array `list` (absent: none).
template <typename ReadFn>
absl::Status ForEach(const json& j, const char* list, ReadFn read) {
  auto it = j.find(list);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return FieldError(list, "must be an array");
  for (const auto& item : *it) {
    if (!item.is_object()) return FieldError(list, "items must be objects");
    DS_RETURN_IF_ERROR(read(item));
  }
  return absl::OkStatus();
}

absl::Status ReadAttachment(const json& j, dossiersync::v1::Attachment* x) {
  DS_ASSIGN_OR_RETURN(*x->mutable_id(), Get(j, "TepDinhKemId"));
  DS_ASSIGN_OR_RETURN(*x->mutable_name(), Get(j, "TenTepDinhKem"));
  DS_ASSIGN_OR_RETURN(*x->mutable_component_code(), Get(j, "MaThanhPhanHoSo"));
  DS_ASSIGN_OR_RETURN(*x->mutable_url(), Get(j, "DuongDanTaiTepTin"));
  DS_ASSIGN_OR_RETURN(*x->mutable_replacement_result_code(), Get(j, "MaKetQuaThayThe"));
  DS_ASSIGN_OR_RETURN(auto digitised, GetFlag(j, "DuocSoHoa"));
  DS_ASSIGN_OR_RETURN(auto reused, GetFlag(j, "DuocTaiSuDung"));
  DS_ASSIGN_OR_RETURN(auto warehouse, GetFlag(j, "DuocLayTuKhoDMQG"));
  x->set_digitised(digitised);
  x->set_reused(reused);
  x->set_from_national_warehouse(warehouse);
  return absl::OkStatus();
}

absl::Status ReadFee(const json& j, dossiersync::v1::Fee* x) {
  DS_ASSIGN_OR_RETURN(*x->mutable_name(), Get(j, "TenPhiLePhi"));
  DS_ASSIGN_OR_RETURN(*x->mutable_code(), Get(j, "MaPhiLePhi"));
  DS_ASSIGN_OR_RETURN(*x->mutable_collection_method(), Get(j, "HinhThucThu"));
  DS_ASSIGN_OR_RETURN(*x->mutable_kind(), Get(j, "LoaiPhiLePhi"));
  DS_ASSIGN_OR_RETURN(auto price, Get(j, "Gia"));
  int64_t amount = 0;
  if (!price.empty() && (!absl::SimpleAtoi(price, &amount) || amount < 0)) {
    return FieldError("Gia", "must be a non-negative whole number of VND");
  }
  x->set_amount_vnd(amount);
  return absl::OkStatus();
}

absl::Status ReadSupplement(const json& j, dossiersync::v1::Supplement* x) {
  using dossiersync::v1::Supplement;
  DS_ASSIGN_OR_RETURN(*x->mutable_id(), Get(j, "HoSoBoSungId"));
  DS_ASSIGN_OR_RETURN(*x->mutable_content(), Get(j, "NoiDungBoSung"));
  DS_ASSIGN_OR_RETURN(*x->mutable_requested_by(), Get(j, "NguoiYeuCauBoSung"));
  DS_ASSIGN_OR_RETURN(*x->mutable_received_by(), Get(j, "NguoiTiepNhanBoSung"));
  DS_ASSIGN_OR_RETURN(*x->mutable_reception_info(), Get(j, "ThongTinTiepNhan"));
  DS_RETURN_IF_ERROR(SetDate(j, "NgayBoSung", x, &Supplement::mutable_requested_at));
  DS_RETURN_IF_ERROR(SetDate(j, "NgayTiepNhanBoSung", x, &Supplement::mutable_completed_at));
  DS_RETURN_IF_ERROR(SetDate(j, "NgayHenTraTruoc", x, &Supplement::mutable_previous_due_at));
  DS_RETURN_IF_ERROR(SetDate(j, "NgayHenTraMoi", x, &Supplement::mutable_new_due_at));
  DS_RETURN_IF_ERROR(ForEach(j, "DanhSachGiayToBoSung",
                             [&](const json& i) { return ReadAttachment(i, x->add_documents()); }));
  return ForEach(j, "DanhSachLePhiBoSung",
                 [&](const json& i) { return ReadFee(i, x->add_fees()); });
}

const char* Flag(bool b) { return b ? "1" : "0"; }

std::string IdKindCode(const dossiersync::v1::Applicant& a, const MappingOptions& lim) {
  auto kind = a.id_kind() != 0 ? a.id_kind() : InferIdKind(a.id_number());
  return kind == dossiersync::v1::ID_KIND_ENTERPRISE ? lim.enterprise_id_kind : Str(kind);
}

// TrangThaiBoSung [assumed codes]: "1" once the supplement was received, else "0".
const char* SupplementState(const dossiersync::v1::Supplement& s) {
  return IsSet(s.completed_at()) ? "1" : "0";
}

json AttachmentToJson(const dossiersync::v1::Attachment& f, const MappingOptions& lim,
                      MappingStats* st) {
  return {{"TepDinhKemId", f.id()},
          {"TenTepDinhKem", TruncateChars(f.name(), lim.attachment_name, st)},
          {"IsDeleted", "False"},
          {"MaThanhPhanHoSo", f.component_code()},
          {"DuongDanTaiTepTin", f.url()},
          {"DuocSoHoa", Flag(f.digitised())},
          {"DuocTaiSuDung", Flag(f.reused())},
          {"DuocLayTuKhoDMQG", Flag(f.from_national_warehouse())},
          {"MaKetQuaThayThe", f.replacement_result_code()}};
}

json FeeToJson(const dossiersync::v1::Fee& f, const MappingOptions& lim, MappingStats* st) {
  return {{"TenPhiLePhi", TruncateChars(f.name(), lim.text, st)},
          {"MaPhiLePhi", f.code()},
          {"HinhThucThu", f.collection_method()},
          {"Gia", Str(f.amount_vnd())},
          {"LoaiPhiLePhi", f.kind()}};
}

}  // namespace

dossiersync::v1::IdKind InferIdKind(absl::string_view id) {
  if (IsEnterpriseCode(id)) return dossiersync::v1::ID_KIND_ENTERPRISE;
  return id.size() == 9 ? dossiersync::v1::ID_KIND_CMND : dossiersync::v1::ID_KIND_CCCD;
}

bool IsEnterpriseCode(absl::string_view id) {
  auto digits = [](absl::string_view s) {
    for (char c : s) {
      if (!absl::ascii_isdigit(c)) return false;
    }
    return true;
  };
  if (id.size() == 10) return digits(id);
  return id.size() == 14 && id[10] == '-' && digits(id.substr(0, 10)) && digits(id.substr(11));
}

std::string FormatDate(const Timestamp& t) {
  if (!IsSet(t)) return "";
  absl::Time at = absl::FromUnixSeconds(t.seconds());
  return absl::FormatTime("%Y%m%d%H%M%S", at, Hanoi());
}

absl::StatusOr<Timestamp> ParseDate(absl::string_view s) {
  if (s.empty()) return Timestamp();
  if (s.size() != 14) return absl::InvalidArgumentError("date must be yyyyMMddHHmmss");
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return absl::InvalidArgumentError("date must be yyyyMMddHHmmss");
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    (void)absl::SimpleAtoi(s.substr(pos, len), &v);
    return v;
  };
  int y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(8, 2), mi = num(10, 2),
      sec = num(12, 2);
  absl::CivilSecond cs(y, mo, d, h, mi, sec);
  // Reject values that CivilSecond normalised (month 13, 30 February, hour 24, ...).
  if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.hour() != h || cs.minute() != mi ||
      cs.second() != sec) {
    return absl::InvalidArgumentError("date is not a valid calendar date and time");
  }
  // Year 0000 (or 0001 before the +07:00 shift) is outside what a Timestamp can hold:
  // TimeUtil would abort the process (found by fuzz/dvcqg_json_fuzz with "00000424022851").
  if (y < 1900) return absl::InvalidArgumentError("date is before 1900");
  absl::Time t = absl::FromCivil(cs, Hanoi());
  return TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(t));
}

std::string TruncateChars(absl::string_view s, int max_chars, MappingStats* stats) {
  bool truncated = false;
  std::string out = Utf8Truncate(s, max_chars, &truncated);
  if (truncated && stats) ++stats->truncated_fields;
  return out;
}

json DossierToJson(const Dossier& d, int status, const MappingOptions& lim, MappingStats* st) {
  auto T = [&](const std::string& s, int max) { return TruncateChars(s, max, st); };
  const auto& a = d.applicant();
  json ids = json::array();
  if (!a.id_number().empty()) {
    ids.push_back({{"LoaiDinhDanh", IdKindCode(a, lim)}, {"SoDinhDanh", a.id_number()}});
  }
  json files = json::array();
  for (const auto& f : d.attachments()) files.push_back(AttachmentToJson(f, lim, st));
  json results = json::array();
  for (const auto& r : d.result_documents()) {
    results.push_back({{"TenGiayTo", T(r.name(), lim.result_doc_name)},
                       {"MaThanhPhanHoSo", r.component_code()},
                       {"GiayToId", r.id()},
                       {"DuongDanTepTinKetQua", r.url()},
                       {"MaGiayToKetQua", r.result_code()}});
  }
  json fees = json::array();
  for (const auto& f : d.fees()) fees.push_back(FeeToJson(f, lim, st));
  json supplements = json::array();
  for (const auto& s : d.supplements()) {
    json docs = json::array(), sfees = json::array();
    for (const auto& f : s.documents()) docs.push_back(AttachmentToJson(f, lim, st));
    for (const auto& f : s.fees()) sfees.push_back(FeeToJson(f, lim, st));
    supplements.push_back({{"HoSoBoSungId", s.id()},
                           {"NguoiYeuCauBoSung", T(s.requested_by(), lim.text)},
                           {"NoiDungBoSung", T(s.content(), lim.text)},
                           {"NgayBoSung", FormatDate(s.requested_at())},
                           {"NguoiTiepNhanBoSung", T(s.received_by(), lim.text)},
                           {"ThongTinTiepNhan", T(s.reception_info(), lim.text)},
                           {"NgayTiepNhanBoSung", FormatDate(s.completed_at())},
                           {"TrangThaiBoSung", SupplementState(s)},
                           {"DanhSachGiayToBoSung", std::move(docs)},
                           {"DanhSachLePhiBoSung", std::move(sfees)},
                           {"NgayHenTraTruoc", FormatDate(s.previous_due_at())},
                           {"NgayHenTraMoi", FormatDate(s.new_due_at())}});
  }
  json databases = json::array();
  for (const auto& code : d.national_databases()) databases.push_back({{"MaCSDL", code}});
  return json{
      {"MaHoSo", d.code()},
      {"MaTTHC", d.procedure_code()},
      {"TenTTHC", T(d.procedure_name(), lim.text)},
      {"MaLinhVuc", d.field_code()},
      {"TenLinhVuc", T(d.field_name(), lim.text)},
      {"SoBienNhan", d.receipt_number()},
      {"ChuHoSo", T(a.name(), lim.text)},
      {"LoaiDoiTuong", a.kind() == 0 ? "" : Str(a.kind())},
      {"MaDoiTuong", a.account_id()},
      {"SoGiayToChuHoSo", a.id_number()},
      {"DinhDanhCHS", ids},
      {"TaiKhoanDuocXacThucVoiVNeID", Flag(a.vneid_verified())},
      {"Email", a.email()},
      {"SoDienThoai", a.phone()},
      {"ThongTinKhac", T(d.other_info(), lim.text)},
      {"TrichYeuHoSo", T(d.summary(), lim.summary)},
      {"KenhThucHien", d.channel() == 0 ? "" : Str(d.channel())},
      {"NoiNopHoSo", d.submission_place()},
      {"NgayNopHoSo", FormatDate(d.submitted_at())},
      {"NgayTiepNhan", FormatDate(d.received_at())},
      {"NgayHenTra", FormatDate(d.due_at())},
      {"NgayKetThucXuLy", FormatDate(d.finished_at())},
      {"NgayTra", FormatDate(d.returned_at())},
      {"NgayTuChoi", FormatDate(d.refused_at())},
      {"TrangThaiHoSo", Str(status)},
      {"HinhThuc", d.result_delivery() == dossiersync::v1::RESULT_DELIVERY_BY_POST ? "1" : "0"},
      {"DonViXuLy", T(d.agency_name(), lim.text)},
      {"ThongTinTra", T(d.return_info(), lim.text)},
      {"HoSoCoThanhPhanSoHoa", Flag(d.has_digitised_components())},
      {"DuocThanhToanTrucTuyen", Str(d.online_payment())},
      {"DSKetNoiCSDL", databases},
      {"TaiLieuNop", files},
      {"DanhSachGiayToKetQua", results},
      {"DanhSachLePhi", fees},
      {"DanhSachHoSoBoSung", supplements},
  };
}

json StepToJson(const std::string& code, const ProgressStep& s, int status,
                const MappingOptions& lim, MappingStats* st) {
  return json{{"MaHoSo", code},
              {"NguoiXuLy", TruncateChars(s.officer(), lim.officer, st)},
              {"ChucDanh", TruncateChars(s.officer_title(), lim.text, st)},
              {"ThoiDiemXuLy", FormatDate(s.occurred_at())},
              {"PhongBanXuLy", TruncateChars(s.department(), lim.text, st)},
              {"NoiDungXuLy", TruncateChars(s.content(), lim.text, st)},
              {"TrangThai", Str(status)},
              {"NgayBatDau", FormatDate(s.started_at())},
              {"NgayKetThucTheoQuyDinh", FormatDate(s.due_at())}};
}

ComparedFields CompareFieldsOf(const Dossier& d, const MappingOptions& lim) {
  ComparedFields f{
      {FormatDate(d.submitted_at()), FormatDate(d.received_at()), FormatDate(d.due_at()),
       FormatDate(d.finished_at()), FormatDate(d.returned_at()), FormatDate(d.refused_at())},
      {d.procedure_code(), TruncateChars(d.procedure_name(), lim.text), d.field_code(),
       TruncateChars(d.agency_name(), lim.text)},
      {}};
  auto join = [](const auto& items, auto value) {
    std::string out;
    for (const auto& x : items) absl::StrAppend(&out, out.empty() ? "" : ";", value(x));
    return out;
  };
  f.scored = {d.channel() == 0 ? "" : Str(d.channel()),
              Flag(d.has_digitised_components()),
              Str(d.online_payment()),
              Flag(d.applicant().vneid_verified()),
              join(d.national_databases(), [](const std::string& c) { return c; }),
              join(d.attachments(),
                   [](const dossiersync::v1::Attachment& x) {
                     return absl::StrCat(Flag(x.digitised()), "|", Flag(x.reused()), "|",
                                         Flag(x.from_national_warehouse()));
                   }),
              join(d.result_documents(),
                   [](const dossiersync::v1::ResultDocument& x) {
                     return absl::StrCat(x.url(), "|", x.result_code());
                   }),
              join(d.fees(), [](const dossiersync::v1::Fee& x) { return Str(x.amount_vnd()); }),
              join(d.supplements(), [](const dossiersync::v1::Supplement& x) {
                return absl::StrCat(FormatDate(x.requested_at()), "|",
                                    FormatDate(x.completed_at()));
              })};
  return f;
}

std::string StepRowKey(const ProgressStep& s, int status, const MappingOptions& lim) {
  return absl::StrCat(FormatDate(s.occurred_at()), "|", TruncateChars(s.officer(), lim.officer),
                      "|", TruncateChars(s.content(), lim.text), "|", status);
}

std::string StepRowKey(const json& row) {
  auto s = [&](const char* k) {
    auto it = row.find(k);
    return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return absl::StrCat(s("ThoiDiemXuLy"), "|", s("NguoiXuLy"), "|", s("NoiDungXuLy"), "|",
                      s("TrangThai"));
}

std::multiset<std::string> NationalStepKeys(const json& response) {
  std::multiset<std::string> keys;
  auto res = response.find("result");
  if (res == response.end() || !res->is_array()) return keys;
  for (const auto& item : *res) {
    if (!item.is_object()) continue;
    auto rows = item.find("QuaTrinhXuLy");
    if (rows == item.end() || !rows->is_array()) continue;
    for (const auto& row : *rows) keys.insert(StepRowKey(row));
  }
  return keys;
}

absl::StatusOr<ProgressStep> StepFromJson(const json& j) {
  if (!j.is_object()) return FieldError("QuaTrinhXuLy", "items must be objects");
  ProgressStep s;
  DS_ASSIGN_OR_RETURN(auto officer, Get(j, "NguoiXuLy"));
  DS_ASSIGN_OR_RETURN(auto title, Get(j, "ChucDanh"));
  DS_ASSIGN_OR_RETURN(auto dept, Get(j, "PhongBanXuLy"));
  DS_ASSIGN_OR_RETURN(auto content, Get(j, "NoiDungXuLy"));
  DS_ASSIGN_OR_RETURN(auto status, GetCode(j, "TrangThai", 1, 10, false));
  s.set_officer(officer);
  s.set_officer_title(title);
  s.set_department(dept);
  s.set_content(content);
  s.set_status(static_cast<dossiersync::v1::DossierStatus>(status));
  if (auto e = SetDate(j, "ThoiDiemXuLy", &s, &ProgressStep::mutable_occurred_at); !e.ok())
    return e;
  if (auto e = SetDate(j, "NgayBatDau", &s, &ProgressStep::mutable_started_at); !e.ok()) return e;
  if (auto e = SetDate(j, "NgayKetThucTheoQuyDinh", &s, &ProgressStep::mutable_due_at); !e.ok()) {
    return e;
  }
  return s;
}

absl::StatusOr<Dossier> DossierFromJson(const json& j, const MappingOptions& options) {
  if (!j.is_object()) return FieldError("result", "items must be objects");
  Dossier d;
  struct Text {
    const char* key;
    std::string* (Dossier::*set)();
  };
  const Text texts[] = {
      {"MaHoSo", &Dossier::mutable_code},
      {"MaTTHC", &Dossier::mutable_procedure_code},
      {"TenTTHC", &Dossier::mutable_procedure_name},
      {"MaLinhVuc", &Dossier::mutable_field_code},
      {"TenLinhVuc", &Dossier::mutable_field_name},
      {"SoBienNhan", &Dossier::mutable_receipt_number},
      {"ThongTinKhac", &Dossier::mutable_other_info},
      {"TrichYeuHoSo", &Dossier::mutable_summary},
      {"DonViXuLy", &Dossier::mutable_agency_name},
      {"ThongTinTra", &Dossier::mutable_return_info},
      {"NoiNopHoSo", &Dossier::mutable_submission_place},
  };
  for (const Text& t : texts) {
    DS_ASSIGN_OR_RETURN(auto v, Get(j, t.key));
    *(d.*t.set)() = std::move(v);
  }
  auto* a = d.mutable_applicant();
  DS_ASSIGN_OR_RETURN(auto name, Get(j, "ChuHoSo"));
  DS_ASSIGN_OR_RETURN(auto account, Get(j, "MaDoiTuong"));
  DS_ASSIGN_OR_RETURN(auto idn, Get(j, "SoGiayToChuHoSo"));
  DS_ASSIGN_OR_RETURN(auto email, Get(j, "Email"));
  DS_ASSIGN_OR_RETURN(auto phone, Get(j, "SoDienThoai"));
  DS_ASSIGN_OR_RETURN(auto kind, GetCode(j, "LoaiDoiTuong", 1, 4, true));
  DS_ASSIGN_OR_RETURN(auto channel, GetCode(j, "KenhThucHien", 1, 3, true));
  DS_ASSIGN_OR_RETURN(auto status, GetCode(j, "TrangThaiHoSo", 1, 10, false));
  DS_ASSIGN_OR_RETURN(auto delivery, GetCode(j, "HinhThuc", 0, 1, true));
  a->set_name(name);
  a->set_account_id(account);
  a->set_id_number(idn);
  a->set_email(email);
  a->set_phone(phone);
  a->set_kind(static_cast<dossiersync::v1::ApplicantKind>(kind));
  if (auto it = j.find("DinhDanhCHS"); it != j.end() && it->is_array() && !it->empty()) {
    DS_ASSIGN_OR_RETURN(auto code, Get((*it)[0], "LoaiDinhDanh"));
    DS_ASSIGN_OR_RETURN(auto number, Get((*it)[0], "SoDinhDanh"));
    dossiersync::v1::IdKind idk = dossiersync::v1::ID_KIND_UNSPECIFIED;
    if (code == "1" || code == "2") {
      idk = static_cast<dossiersync::v1::IdKind>(code[0] - '0');
    } else if (!code.empty() && code == options.enterprise_id_kind) {
      idk = dossiersync::v1::ID_KIND_ENTERPRISE;
    } else if (!code.empty()) {
      return FieldError("LoaiDinhDanh",
                        absl::StrCat("must be 1 (CCCD), 2 (CMND) or ", options.enterprise_id_kind,
                                     " (enterprise / tax code)"));
    }
    // The number may come only in DinhDanhCHS; a kind without any number means nothing (and
    // would not survive being sent back: the mapping writes DinhDanhCHS only with a number).
    if (a->id_number().empty()) a->set_id_number(number);
    if (!a->id_number().empty()) a->set_id_kind(idk);
  }
  if (!a->id_number().empty() && a->id_kind() == 0) {
    // The same inference as on the way out, so that what decodes encodes to the same thing
    // (found by fuzz/dvcqg_json_fuzz).
    a->set_id_kind(InferIdKind(a->id_number()));
  }
  DS_ASSIGN_OR_RETURN(auto vneid, GetFlag(j, "TaiKhoanDuocXacThucVoiVNeID"));
  DS_ASSIGN_OR_RETURN(auto digitised, GetFlag(j, "HoSoCoThanhPhanSoHoa"));
  DS_ASSIGN_OR_RETURN(auto payment, GetCode(j, "DuocThanhToanTrucTuyen", 0, 3, true));
  a->set_vneid_verified(vneid);
  d.set_has_digitised_components(digitised);
  d.set_online_payment(static_cast<dossiersync::v1::OnlinePayment>(payment));
  d.set_channel(static_cast<dossiersync::v1::Channel>(channel));
  d.set_status(static_cast<dossiersync::v1::DossierStatus>(status));
  d.set_result_delivery(delivery == 1 ? dossiersync::v1::RESULT_DELIVERY_BY_POST
                                      : dossiersync::v1::RESULT_DELIVERY_AT_OFFICE);
  struct Date {
    const char* key;
    Timestamp* (Dossier::*set)();
  };
  const Date dates[] = {{"NgayNopHoSo", &Dossier::mutable_submitted_at},
                        {"NgayTiepNhan", &Dossier::mutable_received_at},
                        {"NgayHenTra", &Dossier::mutable_due_at},
                        {"NgayKetThucXuLy", &Dossier::mutable_finished_at},
                        {"NgayTra", &Dossier::mutable_returned_at},
                        {"NgayTuChoi", &Dossier::mutable_refused_at}};
  for (const Date& dt : dates) {
    if (auto e = SetDate(j, dt.key, &d, dt.set); !e.ok()) return e;
  }
  DS_RETURN_IF_ERROR(ForEach(
      j, "TaiLieuNop", [&](const json& i) { return ReadAttachment(i, d.add_attachments()); }));
  DS_RETURN_IF_ERROR(ForEach(j, "DanhSachGiayToKetQua", [&](const json& i) -> absl::Status {
    auto* x = d.add_result_documents();
    DS_ASSIGN_OR_RETURN(*x->mutable_id(), Get(i, "GiayToId"));
    DS_ASSIGN_OR_RETURN(*x->mutable_name(), Get(i, "TenGiayTo"));
    DS_ASSIGN_OR_RETURN(*x->mutable_component_code(), Get(i, "MaThanhPhanHoSo"));
    DS_ASSIGN_OR_RETURN(*x->mutable_url(), Get(i, "DuongDanTepTinKetQua"));
    DS_ASSIGN_OR_RETURN(*x->mutable_result_code(), Get(i, "MaGiayToKetQua"));
    return absl::OkStatus();
  }));
  DS_RETURN_IF_ERROR(
      ForEach(j, "DanhSachLePhi", [&](const json& i) { return ReadFee(i, d.add_fees()); }));
  DS_RETURN_IF_ERROR(ForEach(j, "DanhSachHoSoBoSung", [&](const json& i) {
    return ReadSupplement(i, d.add_supplements());
  }));
  DS_RETURN_IF_ERROR(ForEach(j, "DSKetNoiCSDL", [&](const json& i) -> absl::Status {
    DS_ASSIGN_OR_RETURN(auto code, Get(i, "MaCSDL"));
    d.add_national_databases(std::move(code));
    return absl::OkStatus();
  }));
  if (auto it = j.find("QuaTrinhXuLy"); it != j.end()) {
    if (!it->is_array()) return FieldError("QuaTrinhXuLy", "must be an array");
    for (const auto& row : *it) {
      DS_ASSIGN_OR_RETURN(auto step, StepFromJson(row));
      *d.add_steps() = std::move(step);
    }
  }
  return d;
}

bool IsSuccessCode(absl::string_view code) { return code == "0" || code == "00"; }

std::string ErrorCodeOf(const json& r) {
  auto it = r.find("error_code");
  if (it == r.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return absl::StrCat(it->get<int64_t>());
  return "?";
}

}  // namespace dossiersync::dvcqg
