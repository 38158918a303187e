#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "commands/commands.hpp"
#include "commands/runtime.hpp"
#include "core/thread_guard.hpp"
#include "ingest/json_lines.hpp"
#include "ingest/json_record_parser.hpp"

namespace flowmetrics::commands {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunkBytes = 1 << 20;  // lines read and parsed at once

// Redraws one status line on a terminal: records read, rate, invalid lines, written.
class ProgressLine {
 public:
  explicit ProgressLine(const pipeline::PipelineStats& stats) : stats_(stats), enabled_(::isatty(STDERR_FILENO)) {
    if (enabled_) {
      thread_ = std::thread([this] { run_guarded("progress line", OnEscape::carry_on, [this] { run(); }); });
    }
  }
  ~ProgressLine() { finish(); }
  void finish() {
    if (!thread_.joinable()) return;
    done_ = true;
    thread_.join();
    draw();
    std::fputc('\n', stderr);
  }

 private:
  void run() {
    while (!done_) {
      std::this_thread::sleep_for(250ms);
      draw();
    }
  }
  void draw() {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    const auto received = stats_.received.total();
    std::fprintf(stderr, "\r%12llu records  %10.0f rec/s  %8llu invalid  %12llu written ",
                 static_cast<unsigned long long>(received), seconds > 0 ? static_cast<double>(received) / seconds : 0.0,
                 static_cast<unsigned long long>(stats_.rejected.total()),
                 static_cast<unsigned long long>(stats_.written.load()));
    std::fflush(stderr);
  }

  const pipeline::PipelineStats& stats_;
  const bool enabled_;
  const Clock::time_point start_ = Clock::now();
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

int ingest(const ConfigSources& sources, const std::string& path) {
  config::CollectorConfig config;
  try {
    config = load_config(sources);
  } catch (const config::ConfigError& e) {
    std::cerr << "flowmetrics ingest: configuration: " << e.what() << '\n';
    return 2;
  }
  configure_logging(config);
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) {
      std::cerr << "flowmetrics ingest: cannot open " << path << '\n';
      return 2;
    }
  }
  std::istream& in = path == "-" ? std::cin : file;

  std::unique_ptr<Runtime> runtime;
  try {
    // A one-shot load fails at once without its database: the file stays where it is, and a
    // script or a person gets a clear error instead of a job that waits (README, "Starting
    // without the database").
    runtime = std::make_unique<Runtime>(config, DatabaseStart::required);
  } catch (const std::exception& e) {
    std::cerr << "flowmetrics ingest: " << e.what() << '\n';
    return 1;
  }
  pipeline::Pipeline& pipeline = runtime->pipeline();
  // A file is known by its device and inode: a rerun after a crash resumes where the spool
  // says the last run got to, and a file that grew since is read from there on.
  std::string origin;
  std::uint64_t offset = 0;
  if (path != "-") {
    struct stat status {};
    if (::stat(path.c_str(), &status) == 0) {
      origin = "file:" + std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino);
      offset = pipeline.origin_offset(origin);
      if (offset > 0) {
        std::cerr << "flowmetrics ingest: " << path << ": resuming at byte " << offset
                  << " (an earlier run took everything before it)\n";
        file.seekg(static_cast<std::streamoff>(offset));
      }
    }
  }
  const auto start = Clock::now();
  {
    ProgressLine progress(runtime->stats());
    std::vector<FlowUpdate> batch;
    std::vector<ingest::RejectReason> rejected;
    ingest::JsonLineParser parser;
    spdlog::info("ingest: simdjson kernel {}", ingest::JsonLineParser::kernel());
    const auto hand_over = [&] {
      for (const ingest::RejectReason reason : rejected) pipeline.reject("ingest", ingest::to_string(reason));
      rejected.clear();
      // Records and the offset just past them go into the spool together.
      const std::size_t handed = batch.size();
      for (;;) {
        // The batch becomes the spooled one (no copy); a refused one comes back to try again.
        const pipeline::Admission admission =
            origin.empty() ? pipeline.submit_flows_owned(std::move(batch), "ingest")
                           : pipeline.submit_flows_from(std::move(batch), "ingest", origin, offset);
        if (admission != pipeline::Admission::full && admission != pipeline::Admission::io_error) break;
        pipeline.wait_for_capacity(1s);  // the spool resumes by itself once it can write
      }
      batch.clear();
      batch.reserve(handed);  // the next chunk's records, without growing through copies
    };
    // Whole lines are read a chunk at a time and parsed together (JsonLineParser); a line
    // longer than a chunk grows it, as getline would.
    std::string chunk;
    std::size_t filled = 0;
    chunk.resize(kChunkBytes);
    std::vector<std::string_view> lines;
    bool eof = false;
    while (!eof || filled > 0) {
      if (!eof) {
        if (filled == chunk.size()) chunk.resize(chunk.size() * 2);
        in.read(chunk.data() + filled, static_cast<std::streamsize>(chunk.size() - filled));
        filled += static_cast<std::size_t>(in.gcount());
        eof = !in;
      }
      const std::string_view data(chunk.data(), filled);
      std::size_t used = 0;
      lines.clear();
      for (;;) {
        std::size_t newline = data.find('\n', used);
        if (newline == std::string_view::npos) {
          if (!eof || used == filled) break;
          newline = filled;  // the last line has no line end
        }
        std::string_view line = data.substr(used, newline - used);
        const std::size_t next = std::min(newline + 1, filled);
        used = next;
        offset += line.size() + (newline < filled ? 1 : 0);
        if (line.size() > config.tcp.max_line_bytes) {
          rejected.push_back(ingest::RejectReason::line_too_long);
          continue;
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        lines.push_back(line);
      }
      if (!lines.empty()) parser.parse(data.substr(0, used), lines, batch, rejected);
      if (!batch.empty() || !rejected.empty()) hand_over();
      chunk.erase(0, used);
      filled -= used;
      chunk.resize(std::max(chunk.size() + used, kChunkBytes));
      if (eof && used == 0) break;
    }
    hand_over();  // the offset past trailing rejected or blank lines too
    // A one-shot load waits for its last write however long it takes: the drain timeout is
    // for a service that is being stopped, not for a job that is finishing.
    const bool drained = pipeline.drain(std::chrono::hours(24 * 365));
    progress.finish();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto& stats = runtime->stats();
    std::cerr << "flowmetrics ingest: " << runtime->summary() << " in " << seconds << " s ("
              << static_cast<long>(static_cast<double>(stats.received.total()) / std::max(seconds, 1e-9))
              << " records/s)\n";
    for (const auto& [labels, n] : stats.rejected.snapshot()) {
      std::cerr << "  rejected " << n << " (" << labels.second << ")\n";
    }
    runtime->database().close();
    const bool complete = drained && stats.rejected.total() == 0 && stats.failed.load() == 0 &&
                          stats.written.load() == stats.accepted.load() + stats.replayed.load();
    return complete ? 0 : 1;
  }
}

int config_check(const ConfigSources& sources) {
  try {
    const config::CollectorConfig config = load_config(sources);
    std::cout << config::describe(config);
    std::cerr << "configuration OK\n";
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << "configuration error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace flowmetrics::commands
