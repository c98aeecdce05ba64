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

std::optional<Violation> ValidateDossierItem(const json& item) {
  if (!item.is_object()) return Bad("data", "phần tử phải là đối tượng (items must be objects)");
  if (auto bad = Strings(item, "")) return bad;
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
