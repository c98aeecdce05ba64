// UTF-8 helpers: DVCQG's text limits count characters (code points), not bytes.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_COMMON_UTF8_H_
#define DOSSIERSYNC_COMMON_UTF8_H_

#include <algorithm>
#include <string>

#include "absl/strings/string_view.h"

namespace dossiersync {

// Bytes in the sequence a lead byte starts; 0 for a byte that cannot start one.
inline size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 0;
}

// Code points in `s`; -1 if `s` is not valid UTF-8.
inline int Utf8Length(absl::string_view s) {
  int n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    size_t len = Utf8SequenceLength(static_cast<unsigned char>(s[i]));
    if (len == 0 || i + len > s.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return -1;
    }
    i += len;
  }
  return n;
}

// The first `max_chars` code points of `s` (cut at a character boundary); `*truncated` tells
// whether anything was cut. Invalid bytes count as one character each.
inline std::string Utf8Truncate(absl::string_view s, int max_chars, bool* truncated) {
  size_t i = 0;
  for (int n = 0; i < s.size() && n < max_chars; ++n) {
    i = std::min(s.size(),
                 i + std::max<size_t>(1, Utf8SequenceLength(static_cast<unsigned char>(s[i]))));
  }
  *truncated = i < s.size();
  return std::string(s.substr(0, i));
}

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_UTF8_H_
