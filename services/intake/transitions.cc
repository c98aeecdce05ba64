#include "services/intake/transitions.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dossiersync::intake {

const char TransitionRules::kDefaultSpec[] =
    "1>2,3,7;2>4,7,9,10;4>5,6,8,9,7,10;5>4,7,8;6>4,7,8;8>4;9>10,4";

TransitionRules TransitionRules::Default() { return *Parse(kDefaultSpec); }

absl::StatusOr<TransitionRules> TransitionRules::Parse(const std::string& spec) {
  TransitionRules r;
  for (absl::string_view rule : absl::StrSplit(spec, ';', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(rule, '>');
    int from = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[0]), &from) ||
        from < 1 || from > 10) {
      return absl::InvalidArgumentError(
          absl::StrCat("--transitions: rule '", rule, "' must be FROM>TO[,TO...] with codes 1-10"));
    }
    std::vector<absl::string_view> targets = absl::StrSplit(parts[1], ',', absl::SkipWhitespace());
    if (targets.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--transitions: rule '", rule, "' has no target"));
    }
    for (absl::string_view t : targets) {
      int to = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(t), &to) || to < 1 || to > 10) {
        return absl::InvalidArgumentError(
            absl::StrCat("--transitions: target '", t, "' in '", rule, "' is not a code 1-10"));
      }
      r.allowed_[from][to] = true;
    }
  }
  return r;
}

bool TransitionRules::Allowed(int from, int to) const {
  if (from < 1 || from > 10 || to < 1 || to > 10) return false;
  return from == to || allowed_[from][to];
}

std::string TransitionRules::ToString() const {
  std::vector<std::string> rules;
  for (int f = 1; f <= 10; ++f) {
    std::vector<int> to;
    for (int t = 1; t <= 10; ++t) {
      if (allowed_[f][t]) to.push_back(t);
    }
    if (!to.empty()) rules.push_back(absl::StrCat(f, ">", absl::StrJoin(to, ",")));
  }
  return absl::StrJoin(rules, ";");
}

}  // namespace dossiersync::intake
