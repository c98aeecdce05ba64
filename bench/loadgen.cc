// ds-loadgen: the stack's own load generator for IntakeService, on gRPC's callback (async) API.
//   --mode=closed --concurrency=N   N calls (unary) or N unanswered items per stream in flight
//   --mode=open --rate=R            R changes/s on a fixed schedule, whatever the replies do;
//                                   latency counts from the scheduled moment (no coordinated
//                                   omission), so a saturated server shows as growing latency
//   --rpc=unary|stream              SubmitChange, or SubmitChanges over --streams streams
//   --e2e_brokers=HOST:PORT         also measure intake OK → DVCQG accepted from sync-results
// The changes are Lạng Sơn-shaped lifecycles (tools/dossierctl/workload.h); a dossier's next
// change is sent only after its previous one was acknowledged (and --step_gap passed), so every
// change is valid. Prints a summary and, with --json, one JSON line for bench/section10.sh.
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "bench/e2e_tracker.h"
#include "bench/loadgen_lanes.h"
#include "common/flags.h"
#include "common/grpc_client.h"
#include "common/kafka.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, intake_addr, "127.0.0.1:50051", "IntakeService address");
ABSL_FLAG(std::string, token_file, "", "Bearer token file (none: no token)");
ABSL_FLAG(std::string, ca_file, "", "CA file for TLS (none, without --cert_file: plaintext)");
ABSL_FLAG(std::string, cert_file, "", "Client certificate (mutual TLS, with --key_file)");
ABSL_FLAG(std::string, key_file, "", "Key of --cert_file");
ABSL_FLAG(std::string, server_name, "", "Name to verify in intake's certificate");
ABSL_FLAG(std::string, mode, "closed", "open (fixed rate) or closed (fixed concurrency)");
ABSL_FLAG(std::string, rpc, "unary", "unary (SubmitChange) or stream (SubmitChanges)");
ABSL_FLAG(double, rate, 1000, "open loop: changes per second");
ABSL_FLAG(int, concurrency, 64, "closed loop: calls in flight (unary) or per stream (stream)");
ABSL_FLAG(int, streams, 4, "stream: number of SubmitChanges streams");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(20), "measured load duration");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "load before measuring (not counted)");
ABSL_FLAG(absl::Duration, step_gap, absl::ZeroDuration(),
          "a dossier's next change waits this long after the previous OK");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(10), "deadline of each unary call");
ABSL_FLAG(int64_t, first_index, 0, "generated dossier indices start here (use distinct ranges)");
ABSL_FLAG(std::string, e2e_brokers, "", "Kafka bootstrap: measure end-to-end latency too");
ABSL_FLAG(absl::Duration, e2e_wait, absl::Seconds(120), "wait for the last changes to sync");
ABSL_FLAG(bool, json, false, "print one JSON line instead of the summary");
ABSL_FLAG(std::string, kcat_input, "",
          "instead of load: write the first --kcat_count messages of dossier-changes at "
          "--e2e_brokers to this file as kcat -P input (keys split by \\x1d\\x1c\\x1d\\x1c, "
          "messages by \\x1e\\x1f\\x1e\\x1f)");
ABSL_FLAG(int64_t, kcat_count, 100000, "messages for --kcat_input");

namespace dossiersync::bench {
namespace {

double Percentile(const std::vector<int64_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  size_t rank = static_cast<size_t>(p * static_cast<double>(sorted_us.size()));
  return static_cast<double>(sorted_us[std::min(rank, sorted_us.size() - 1)]) / 1000.0;
}

// kcat -P input of the messages intake produced: the same keys and values (kcat cannot send
// per-message headers; they are ~150 bytes of each message). Messages containing a delimiter are
// left out (counted).
int WriteKcatInput(const std::string& brokers, const std::string& path, int64_t count) {
  static constexpr char kKeyDelim[] = "\x1d\x1c\x1d\x1c";
  static constexpr char kMsgDelim[] = "\x1e\x1f\x1e\x1f";
  auto c = KafkaConsumer::CreateAssigned(brokers, kTopicDossierChanges, /*from_beginning=*/true);
  if (!c.ok()) {
    std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
    return 2;
  }
  std::ofstream out(path, std::ios::binary);
  int64_t written = 0, skipped = 0, bytes = 0, idle = 0;
  while (written < count && idle < 50) {
    auto m = (*c)->Poll(100);
    if (!m.ok() || !m->has_value()) {
      ++idle;
      continue;
    }
    idle = 0;
    const std::string& k = (*m)->key;
    const std::string& v = (*m)->value;
    if (absl::StrContains(k, kKeyDelim) || absl::StrContains(v, kKeyDelim) ||
        absl::StrContains(k, kMsgDelim) || absl::StrContains(v, kMsgDelim)) {
      ++skipped;
      continue;
    }
    out << k << kKeyDelim << v << kMsgDelim;
    bytes += static_cast<int64_t>(k.size() + v.size());
    ++written;
  }
  std::printf("{\"messages\":%lld,\"skipped\":%lld,\"bytes\":%lld}\n",
              static_cast<long long>(written), static_cast<long long>(skipped),
              static_cast<long long>(bytes));
  return written > 0 ? 0 : 1;
}

int Main() {
  if (!absl::GetFlag(FLAGS_kcat_input).empty()) {
    return WriteKcatInput(absl::GetFlag(FLAGS_e2e_brokers), absl::GetFlag(FLAGS_kcat_input),
                          absl::GetFlag(FLAGS_kcat_count));
  }
  LoadOptions o;
  o.open = absl::GetFlag(FLAGS_mode) == "open";
  o.stream = absl::GetFlag(FLAGS_rpc) == "stream";
  if (!o.open && absl::GetFlag(FLAGS_mode) != "closed") {
    std::fprintf(stderr, "--mode must be open or closed, not %s\n",
                 absl::GetFlag(FLAGS_mode).c_str());
    return 2;
  }
  if (!o.stream && absl::GetFlag(FLAGS_rpc) != "unary") {
    std::fprintf(stderr, "--rpc must be unary or stream, not %s\n",
                 absl::GetFlag(FLAGS_rpc).c_str());
    return 2;
  }
  o.rate = absl::GetFlag(FLAGS_rate);
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.streams = absl::GetFlag(FLAGS_streams);
  o.duration = absl::GetFlag(FLAGS_duration);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.step_gap = absl::GetFlag(FLAGS_step_gap);
  o.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  o.first_index = absl::GetFlag(FLAGS_first_index);
  if ((o.open && o.rate <= 0) || o.concurrency <= 0 || o.streams <= 0 ||
      o.duration <= absl::ZeroDuration()) {
    std::fprintf(stderr, "--rate, --concurrency, --streams and --duration must be positive\n");
    return 2;
  }
  auto client = ClientOptionsFrom(absl::GetFlag(FLAGS_ca_file), absl::GetFlag(FLAGS_cert_file),
                                  absl::GetFlag(FLAGS_key_file), absl::GetFlag(FLAGS_token_file),
                                  absl::GetFlag(FLAGS_server_name),
                                  {"--ca_file", "--cert_file", "--key_file", "--token_file"});
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 2;
  }
  o.client = *client;
  auto channel = MakeChannel(absl::GetFlag(FLAGS_intake_addr), o.client);
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n", channel.status().ToString().c_str());
    return 2;
  }
  E2eTracker tracker;
  const bool e2e = !absl::GetFlag(FLAGS_e2e_brokers).empty();
  if (e2e) {
    if (auto st = tracker.Start(absl::GetFlag(FLAGS_e2e_brokers)); !st.ok()) {
      std::fprintf(stderr, "sync-results: %s\n", st.ToString().c_str());
      return 2;
    }
    o.on_ack = [&tracker](const std::string& code, int64_t revision, absl::Time at) {
      tracker.RecordAck(code, revision, at);
    };
  }
  LoadResult r = RunLoad(*channel, o);
  E2eReport e;
  if (e2e) {
    tracker.Wait(absl::GetFlag(FLAGS_e2e_wait));
    e = tracker.Report();
  }
  const double seconds = absl::ToDoubleSeconds(o.duration);
  nlohmann::json j = {
      {"mode", o.open ? "open" : "closed"},
      {"rpc", o.stream ? "stream" : "unary"},
      {"target_rate", o.open ? o.rate : 0.0},
      {"concurrency", o.open ? 0 : o.concurrency},
      {"streams", o.stream ? o.streams : 0},
      {"seconds", seconds},
      {"ok", r.ok},
      {"errors", r.errors},
      {"error_kinds", r.error_kinds},
      {"rate", static_cast<double>(r.ok) / seconds},
      {"p50_ms", Percentile(r.latencies_us, 0.50)},
      {"p90_ms", Percentile(r.latencies_us, 0.90)},
      {"p99_ms", Percentile(r.latencies_us, 0.99)},
      {"max_ms", r.latencies_us.empty() ? 0.0 : r.latencies_us.back() / 1000.0},
  };
  if (e2e) {
    j["e2e_changes"] = e.changes;
    j["e2e_synced"] = e.covered;
    j["e2e_p50_ms"] = Percentile(e.latencies_us, 0.50);
    j["e2e_p99_ms"] = Percentile(e.latencies_us, 0.99);
    j["e2e_max_ms"] = e.latencies_us.empty() ? 0.0 : e.latencies_us.back() / 1000.0;
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s loop, %s: %lld OK in %.1f s = %.0f changes/s, %lld errors %s\n",
                o.open ? "open" : "closed", o.stream ? "SubmitChanges" : "SubmitChange",
                static_cast<long long>(r.ok), seconds, j["rate"].get<double>(),
                static_cast<long long>(r.errors), j["error_kinds"].dump().c_str());
    std::printf("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                j["p50_ms"].get<double>(), j["p90_ms"].get<double>(), j["p99_ms"].get<double>(),
                j["max_ms"].get<double>());
    if (e2e) {
      std::printf(
          "end to end (intake OK -> DVCQG accepted): %lld of %lld synced, p50 %.1f ms, "
          "p99 %.1f ms, max %.1f ms\n",
          static_cast<long long>(e.covered), static_cast<long long>(e.changes),
          j["e2e_p50_ms"].get<double>(), j["e2e_p99_ms"].get<double>(),
          j["e2e_max_ms"].get<double>());
    }
  }
  return r.ok > 0 && r.errors == 0 && (!e2e || e.covered == e.changes) ? 0 : 1;
}

}  // namespace
}  // namespace dossiersync::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return dossiersync::bench::Main();
}
