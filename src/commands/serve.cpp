#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "commands/commands.hpp"
#include "commands/runtime.hpp"
#include "core/thread_guard.hpp"
#include "ingest/netflow_udp_input.hpp"
#include "ingest/sflow_udp_input.hpp"
#include "ingest/tcp_json_input.hpp"
#include "server/http_server.hpp"
#include "server/netflow_metrics.hpp"
#include "server/query_routes.hpp"
#include "server/query_service.hpp"
#include "server/sflow_metrics.hpp"

namespace flowmetrics::commands {
namespace {

using namespace std::chrono_literals;

// Waits for SIGTERM/SIGINT on a thread of its own (the signals are blocked everywhere
// else). The first one asks for a graceful stop; a second one ends the process at once.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);  // inherited by every thread started later
    thread_ = std::thread([this] { run_guarded("signal watcher", OnEscape::exit_now, [this] { run(); }); });
  }
  ~SignalWatcher() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait; ignored once done_
    thread_.join();
  }
  void wait() {
    std::unique_lock lock(mu_);
    stop_requested_cv_.wait(lock, [this] { return stop_requested_; });
  }

 private:
  void run() {
    int count = 0;
    for (;;) {
      int signal = 0;
      if (sigwait(&signals_, &signal) != 0 || done_) return;
      if (++count == 1) {
        spdlog::info("received {}: stopping inputs and draining (send it again to exit at once)", strsignal(signal));
        std::lock_guard lock(mu_);
        stop_requested_ = true;
        stop_requested_cv_.notify_all();
      } else {
        spdlog::warn("received {} again: exiting without draining", strsignal(signal));
        spdlog::shutdown();
        std::_Exit(130);
      }
    }
  }

  sigset_t signals_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::condition_variable stop_requested_cv_;
  bool stop_requested_ = false;
};

}  // namespace

int serve(const ConfigSources& sources) {
  // One malloc arena for the whole process, set before any thread starts. glibc gives each
  // thread that allocates its own arena, and malloc_trim (which the pipeline calls when idle)
  // returns only the main arena's free top: every thread arena kept its last megabyte or so
  // of input chunks resident, ~30 bytes per key of a 100k-key NetFlow stream. The data path
  // allocates per chunk of thousands of records, not per record, so the one lock is cheap.
  ::mallopt(M_ARENA_MAX, 1);
  SignalWatcher signals;  // first, so that every later thread has the signals blocked
  config::CollectorConfig config;
  try {
    config = load_config(sources);
  } catch (const config::ConfigError& e) {
    spdlog::error("configuration: {}", e.what());
    return 2;
  }
  configure_logging(config);
  std::string bearer_token;
  try {
    if (!config.http.bearer_token_file.empty()) {
      bearer_token = read_secret_file(config.http.bearer_token_file, "inputs.http.bearer_token_file");
    }
  } catch (const config::ConfigError& e) {
    spdlog::error("configuration: {}", e.what());
    return 2;
  }
  server::QueryRouteOptions query_routes;
  try {
    if (!config.query.read_token_file.empty()) {
      query_routes.tokens.push_back(read_secret_file(config.query.read_token_file, "query.read_token_file"));
    }
  } catch (const config::ConfigError& e) {
    spdlog::error("configuration: {}", e.what());
    return 2;
  }
  if (!bearer_token.empty()) query_routes.tokens.push_back(bearer_token);
  spdlog::info("flowmetrics {} starting: database {}.{}, {} writers, bucket {} s, policy {}", FLOWMETRICS_VERSION,
               config.database.database, config.database.collection, config.pipeline.writers,
               config.pipeline.bucket_width.count(), to_string(config.database.merge_policy));

  std::unique_ptr<Runtime> runtime;
  try {
    // The database may come later: the spool takes the input meanwhile (README, "Starting
    // without the database").
    runtime = std::make_unique<Runtime>(config, DatabaseStart::in_background);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }

  // The query API (docs/query-api.md) on the same port, measured on the same /metrics; declared
  // before the inputs, so that it outlives the HTTP server that calls it.
  server::QueryService queries([&runtime] { return runtime->database().agent(); },
                               {config.query.slow, config.query.timeout});
  runtime->metrics().add_collectable(queries.collectable());
  std::vector<std::unique_ptr<ingest::Input>> inputs;
  if (config.http.enabled) {
    auto http = std::make_unique<server::HttpServer>(
        server::HttpServerOptions{config.http.listen, config.http.max_body_bytes, config.http.threads, bearer_token},
        runtime->pipeline(), [&] { return runtime->metrics().render(); }, [&] { return runtime->readiness(); });
    http->add_routes([&](httplib::Server& server) { server::register_query_routes(server, queries, query_routes); });
    inputs.push_back(std::move(http));
  }
  if (config.tcp.enabled) {
    inputs.push_back(std::make_unique<ingest::TcpJsonInput>(
        ingest::TcpInputOptions{config.tcp.listen, config.tcp.max_line_bytes, config.tcp.max_connections},
        runtime->pipeline()));
  }
  if (config.netflow.enabled) {
    ingest::NetflowInputOptions options;
    options.listen = config.netflow.listen;
    options.receive_buffer_bytes = config.netflow.receive_buffer_bytes;
    options.decoder.timestamp = config.netflow.timestamp == "start" ? netflow::FlowTime::start : netflow::FlowTime::end;
    options.decoder.apply_sampling = config.netflow.apply_sampling;
    options.decoder.template_wait = config.netflow.template_wait;
    auto netflow = std::make_unique<ingest::NetflowUdpInput>(std::move(options), runtime->pipeline());
    runtime->metrics().add_collectable(server::netflow_metrics([input = netflow.get()] { return input->stats(); }));
    inputs.push_back(std::move(netflow));
  }
  if (config.sflow.enabled) {
    ingest::SflowInputOptions options;
    options.listen = config.sflow.listen;
    options.receive_buffer_bytes = config.sflow.receive_buffer_bytes;
    options.decoder.apply_sampling = config.sflow.apply_sampling;
    auto sflow = std::make_unique<ingest::SflowUdpInput>(std::move(options), runtime->pipeline());
    runtime->metrics().add_collectable(server::sflow_metrics([input = sflow.get()] { return input->stats(); }));
    inputs.push_back(std::move(sflow));
  }
  try {
    for (auto& input : inputs) {
      input->start();
      spdlog::info("{} input listening on {}", input->name(), input->bound_address());
    }
  } catch (const std::exception& e) {
    spdlog::error("cannot start inputs: {}", e.what());
    for (auto& input : inputs) input->stop();
    runtime->pipeline().drain(config.shutdown.drain_timeout);
    return 1;
  }

  std::atomic<bool> stopping{false};
  const auto report = [&] {
    // One summary line a minute at info.
    auto next = std::chrono::steady_clock::now() + 60s;
    while (!stopping) {
      std::this_thread::sleep_for(200ms);
      if (std::chrono::steady_clock::now() >= next) {
        spdlog::info("summary: {}", runtime->summary());
        next += 60s;
      }
    }
  };
  std::thread reporter([&] { run_guarded("summary reporter", OnEscape::carry_on, report); });

  signals.wait();
  for (auto& input : inputs) input->stop();
  const bool drained = runtime->pipeline().drain(config.shutdown.drain_timeout);
  stopping = true;
  reporter.join();
  spdlog::info("final: {}", runtime->summary());
  const bool connected = runtime->database().connected();
  runtime->database().close();
  if (!drained) {
    spdlog::error("the drain timeout ({} s) passed before everything was written{}; the rest stays in the spool ({})",
                  config.shutdown.drain_timeout.count(), connected ? "" : " (the database was never reachable)",
                  config.spool.directory);
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace flowmetrics::commands
