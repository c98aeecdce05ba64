#include "services/dvcqg_sim/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/dvcqg/mapping.h"
#include "common/utf8.h"

namespace dossiersync::sim {
namespace {

using nlohmann::json;

// Characters (code points); invalid UTF-8 counts byte by byte.
int Chars(const std::string& s) {
  int n = Utf8Length(s);
  return n >= 0 ? n : static_cast<int>(s.size());
}

std::optional<Violation> Bad(const std::string& field, const std::string& rule) {
  return Violation{field, absl::StrCat("Trường ", field, " không hợp lệ: ", rule)};
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Digits(const std::string& s, size_t from, size_t n) {
  if (s.size() < from + n) return false;
  for (size_t i = from; i < from + n; ++i) {
    if (!absl::ascii_isdigit(s[i])) return false;
  }
  return true;
}

std::optional<Violation> Code(const json& j, const char* key, int min, int max, bool required) {
  std::string s = Str(j, key);
  if (s.empty()) return required ? Bad(key, "bắt buộc (required)") : std::nullopt;
  int v = 0;
  if (!absl::SimpleAtoi(s, &v) || v < min || v > max) {
    return Bad(key, absl::StrCat("mã không hợp lệ (code must be ", min, "-", max, ")"));
  }
  return std::nullopt;
}

std::optional<Violation> Date(const json& j, const char* key) {
  if (!dvcqg::ParseDate(Str(j, key)).ok()) return Bad(key, "ngày phải có dạng yyyyMMddHHmmss");
  return std::nullopt;
}

// Every scalar a string; text within limits; recursing into the lists.
std::optional<Violation> Strings(const json& j, const std::string& path) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string field = path.empty() ? it.key() : absl::StrCat(path, ".", it.key());
    const json& v = it.value();
    if (v.is_array()) {
      for (const auto& e : v) {
        if (!e.is_object()) return Bad(field, "phần tử phải là đối tượng (items must be objects)");
        if (auto bad = Strings(e, field)) return bad;
      }
      continue;
    }
    if (!v.is_string()) return Bad(field, "phải là chuỗi (every scalar is a string)");
    int limit = 2000;
    if (it.key() == "TrichYeuHoSo") limit = 1000;
    if (it.key() == "TenTepDinhKem" || it.key() == "DuongDanTaiTepTin" ||
        it.key() == "DuongDanTepTinKetQua") {
      limit = 4000;
    }
    if (it.key() == "NguoiXuLy") limit = 50;
    if (Chars(v.get<std::string>()) > limit) {
      return Bad(field, absl::StrCat("vượt quá ", limit, " ký tự (over ", limit, " characters)"));
    }
  }
  return std::nullopt;
}

// The flags and lists the national scoring reads (reference/dvcqg.md §4, §9).
std::optional<Violation> ScoredFields(const json& item) {
  for (const char* key : {"HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID"}) {
    if (auto bad = Code(item, key, 0, 1, false)) return bad;
  }
  if (auto bad = Code(item, "DuocThanhToanTrucTuyen", 0, 3, false)) return bad;
  auto each = [&](const char* list, auto check) -> std::optional<Violation> {
    auto it = item.find(list);
    if (it == item.end()) return std::nullopt;
    if (!it->is_array()) return Bad(list, "phải là mảng (must be an array)");
    for (const auto& e : *it) {
      if (auto bad = check(e)) return bad;
    }
    return std::nullopt;
  };
  auto flags = [](const json& e) -> std::optional<Violation> {
    for (const char* key : {"DuocSoHoa", "DuocTaiSuDung", "DuocLayTuKhoDMQG"}) {
      if (auto bad = Code(e, key, 0, 1, false)) return bad;
    }
    return std::nullopt;
  };
  if (auto bad = each("TaiLieuNop", flags)) return bad;
  if (auto bad = each("DSKetNoiCSDL", [](const json& e) -> std::optional<Violation> {
        if (Str(e, "MaCSDL").empty()) return Bad("DSKetNoiCSDL.MaCSDL", "bắt buộc (required)");
        return std::nullopt;
      })) {
    return bad;
  }
  if (auto bad = each("DanhSachLePhi", [](const json& e) -> std::optional<Violation> {
        int64_t price = 0;
        std::string g = Str(e, "Gia");
        if (!g.empty() && (!absl::SimpleAtoi(g, &price) || price < 0)) {
          return Bad("DanhSachLePhi.Gia", "phải là số nguyên không âm (a whole number of VND)");
        }
        return std::nullopt;
      })) {
    return bad;
  }
  return each("DanhSachHoSoBoSung", [&](const json& e) -> std::optional<Violation> {
    for (const char* key :
         {"NgayBoSung", "NgayTiepNhanBoSung", "NgayHenTraTruoc", "NgayHenTraMoi"}) {
      if (!dvcqg::ParseDate(Str(e, key)).ok()) {
        return Bad(absl::StrCat("DanhSachHoSoBoSung.", key), "ngày phải có dạng yyyyMMddHHmmss");
      }
    }
    auto docs = e.find("DanhSachGiayToBoSung");
    if (docs != e.end() && docs->is_array()) {
      for (const auto& d : *docs) {
        if (auto bad = flags(d)) return bad;
      }
    }
    return std::nullopt;
  });
}

// DinhDanhCHS: LoaiDinhDanh 1 (12-digit CCCD), 2 (9-digit CMND) or the enterprise kind (a
// 10-digit tax code, or dddddddddd-ddd).
std::optional<Violation> Identity(const json& item, const std::string& enterprise_kind) {
  auto it = item.find("DinhDanhCHS");
  if (it == item.end()) return std::nullopt;
  if (!it->is_array()) return Bad("DinhDanhCHS", "phải là mảng (must be an array)");
  for (const auto& e : *it) {
    std::string kind = Str(e, "LoaiDinhDanh"), number = Str(e, "SoDinhDanh");
    bool ok = (kind == "1" && number.size() == 12 && Digits(number, 0, 12)) ||
              (kind == "2" && number.size() == 9 && Digits(number, 0, 9)) ||
              (kind == enterprise_kind && dvcqg::IsEnterpriseCode(number));
    if (!ok) {
      return Bad(
          "DinhDanhCHS",
          absl::StrCat("LoaiDinhDanh 1: CCCD 12 số, 2: CMND 9 số, ", enterprise_kind,
                       ": mã số doanh nghiệp 10 số hoặc dddddddddd-ddd (got kind '", kind, "')"));
    }
  }
  return std::nullopt;
}

}  // namespace

bool ValidDossierCode(const std::string& c) {
  // ddd.dd.dd.Hdd-yyMMdd-NNNN...
  if (c.size() < 13 + 1 + 6 + 1 + 4) return false;
  const std::string shape = "ddd.dd.dd.Hdd";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? !absl::ascii_isdigit(c[i]) : c[i] != shape[i]) return false;
  }
  return c[13] == '-' && Digits(c, 14, 6) && c[20] == '-' && Digits(c, 21, c.size() - 21);
}

std::optional<Violation> ValidateDossierItem(const json& item, const std::string& enterprise_kind) {
  if (!item.is_object()) return Bad("data", "phần tử phải là đối tượng (items must be objects)");
  if (auto bad = Strings(item, "")) return bad;
  if (auto bad = Identity(item, enterprise_kind)) return bad;
  for (const char* key : {"MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "DonViXuLy"}) {
    if (Str(item, key).empty()) return Bad(key, "bắt buộc (required)");
  }
  if (!ValidDossierCode(Str(item, "MaHoSo"))) {
    return Bad("MaHoSo", "phải có dạng {mã cơ quan}-{yyMMdd}-{số thứ tự}");
  }
  if (auto bad = Code(item, "LoaiDoiTuong", 1, 4, true)) return bad;
  if (auto bad = Code(item, "TrangThaiHoSo", 1, 10, true)) return bad;
  if (auto bad = Code(item, "KenhThucHien", 1, 3, false)) return bad;
  if (auto bad = Code(item, "HinhThuc", 0, 1, false)) return bad;
  for (const char* key :
       {"NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi"}) {
    if (auto bad = Date(item, key)) return bad;
  }
  if (auto bad = ScoredFields(item)) return bad;
  int s = 0;
  (void)absl::SimpleAtoi(Str(item, "TrangThaiHoSo"), &s);
  auto need = [&](bool cond, const char* key) -> std::optional<Violation> {
    if (cond && Str(item, key).empty()) {
      return Bad(key,
                 absl::StrCat("bắt buộc khi trạng thái là ", s, " (required for status ", s, ")"));
    }
    return std::nullopt;
  };
  bool accepted = s == 2 || s == 4 || s == 5 || s == 6 || s == 8 || s == 9 || s == 10;
  if (auto bad = need(accepted, "NgayTiepNhan")) return bad;
  if (auto bad = need(s == 9 || s == 10, "NgayKetThucXuLy")) return bad;
  if (auto bad = need(s == 10, "NgayTra")) return bad;
  if (auto bad = need(s == 3, "NgayTuChoi")) return bad;
  return std::nullopt;
}

std::optional<Violation> ValidateProgressItem(const json& item) {
  if (!item.is_object()) return Bad("data", "phần tử phải là đối tượng (items must be objects)");
  if (auto bad = Strings(item, "")) return bad;
  if (Str(item, "MaHoSo").empty()) return Bad("MaHoSo", "bắt buộc (required)");
  if (Str(item, "ThoiDiemXuLy").empty()) return Bad("ThoiDiemXuLy", "bắt buộc (required)");
  for (const char* key : {"ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"}) {
    if (auto bad = Date(item, key)) return bad;
  }
  if (auto bad = Code(item, "TrangThai", 1, 10, true)) return bad;
  return std::nullopt;
}

}  // namespace dossiersync::sim
