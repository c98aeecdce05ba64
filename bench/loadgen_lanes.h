// The load generator's engine: unary calls or SubmitChanges streams on gRPC's callback API, in an
// open loop (a fixed schedule) or a closed loop (a fixed number in flight). Latency counts from
// the moment a change was due (open) or sent (closed) until its reply; only changes due inside the
// measured window [start + warmup, start + warmup + duration) count.
//
// Thread safety: RunLoad is self-contained; `on_ack` is called from gRPC's callback threads.
#ifndef DOSSIERSYNC_BENCH_LOADGEN_LANES_H_
#define DOSSIERSYNC_BENCH_LOADGEN_LANES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/grpc_client.h"
#include "grpcpp/channel.h"

namespace dossiersync::bench {

struct LoadOptions {
  bool open = false;    // open loop at `rate`; otherwise closed loop at `concurrency`
  bool stream = false;  // SubmitChanges streams; otherwise unary SubmitChange
  double rate = 1000;
  int concurrency = 64;  // unary: calls in flight; stream: unanswered items per stream
  int streams = 4;
  absl::Duration duration = absl::Seconds(20);
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration step_gap = absl::ZeroDuration();
  absl::Duration call_timeout = absl::Seconds(10);
  int64_t first_index = 0;
  ClientOptions client;
  // Each change intake acknowledged inside the measured window: code, revision, when.
  std::function<void(const std::string&, int64_t, absl::Time)> on_ack;
};

struct LoadResult {
  int64_t ok = 0;      // replies without error inside the window (duplicates included)
  int64_t errors = 0;  // error replies and failed calls inside the window
  std::map<std::string, int64_t> error_kinds;
  std::vector<int64_t> latencies_us;  // of the OK replies, sorted
};

LoadResult RunLoad(std::shared_ptr<grpc::Channel> channel, const LoadOptions& options);

}  // namespace dossiersync::bench

#endif  // DOSSIERSYNC_BENCH_LOADGEN_LANES_H_
