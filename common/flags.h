// Command-line flags with environment fallback: every flag `--name` also reads
// `DOSSIERSYNC_NAME` (upper case). The command line wins over the environment.
//
// Thread safety: call ParseFlags once from main() before starting threads.
#ifndef DOSSIERSYNC_COMMON_FLAGS_H_
#define DOSSIERSYNC_COMMON_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dossiersync {

// Applies DOSSIERSYNC_* environment variables to the registered flags, then parses argv.
// Exits with a clear message on an unparsable value. Returns the positional arguments
// (argv[0] first).
std::vector<std::string> ParseFlags(int argc, char** argv, const char* usage);

// Reads a secret (token, password) from a file, trimming one trailing newline; an unreadable
// file is NOT_FOUND naming `flag` (the flag that gave the path), the path and the reason.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path, absl::string_view flag);

// Exits with status 2 and `message` on stderr as one JSON log line: for invalid configuration.
[[noreturn]] void ConfigError(const std::string& message);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_FLAGS_H_
