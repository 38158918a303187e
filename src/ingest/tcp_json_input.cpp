#include "ingest/tcp_json_input.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "core/thread_guard.hpp"
#include "ingest/json_record_parser.hpp"
#include "ingest/socket_address.hpp"

namespace flowmetrics::ingest {
namespace {

constexpr std::size_t kReadBytes = 64 * 1024;
constexpr std::size_t kBatchRecords = 1'024;

}  // namespace

TcpJsonInput::TcpJsonInput(TcpInputOptions options, pipeline::RecordSink& sink)
    : options_(std::move(options)), sink_(sink) {}

TcpJsonInput::~TcpJsonInput() {
  stop();
}

void TcpJsonInput::start() {
  listen_fd_ = listen_tcp(options_.listen);
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  bound_ = to_string(reinterpret_cast<sockaddr*>(&address));
  acceptor_ = std::thread([this] { run_guarded("tcp acceptor", OnEscape::stop_process, [this] { accept_loop(); }); });
}

void TcpJsonInput::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  {
    // Unblock readers; each connection hands over what it has read, then ends.
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RD);
  }
  std::map<int, std::thread> connections;
  {
    std::lock_guard lock(mu_);
    connections.swap(connections_);
    finished_.clear();
  }
  for (auto& [fd, thread] : connections) thread.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void TcpJsonInput::accept_loop() {
  while (!stopping_) {
    reap_finished();
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (active_.load() >= options_.max_connections) {
      ::close(fd);  // over the limit: the client sees the connection close at once
      continue;
    }
    ++active_;
    reap_finished();  // a reused fd number must not meet its previous owner's entry
    std::lock_guard lock(mu_);
    open_fds_.insert(fd);
    connections_.emplace(fd, std::thread([this, fd] { serve(fd); }));
  }
}

void TcpJsonInput::reap_finished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu_);
    for (int fd : finished_) {
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      done.push_back(std::move(it->second));
      connections_.erase(it);
    }
    finished_.clear();
  }
  for (auto& thread : done) thread.join();
}

// A bug that throws ends only its own connection (the client sees it close); the rest of the
// input goes on.
void TcpJsonInput::serve(int fd) {
  run_guarded("tcp connection", OnEscape::carry_on, [this, fd] { read_records(fd); });
  --active_;
  std::lock_guard lock(mu_);
  // The fd is closed under the lock so that it cannot be reused by a new connection before
  // the acceptor has reaped this thread's entry.
  open_fds_.erase(fd);
  ::close(fd);
  finished_.push_back(fd);
}

void TcpJsonInput::read_records(int fd) {
  std::string buffer;
  std::vector<char> chunk(kReadBytes);
  std::vector<Metric> batch;
  batch.reserve(kBatchRecords);
  bool discarding = false;  // inside a line that was too long, until its newline

  const auto hand_over = [&] {
    // Records read from the socket are in the spool before anything else is read: a full
    // spool, or one stopped by an I/O error, holds this connection here (the sender blocks)
    // until it takes them.
    for (;;) {
      if (batch.empty()) break;
      const pipeline::Admission admission = sink_.submit(batch, "tcp");
      if (admission != pipeline::Admission::full && admission != pipeline::Admission::io_error) break;
      if (stopping_) {  // nowhere to put them
        sink_.drop("tcp", batch.size(), admission == pipeline::Admission::full ? "spool_full" : "spool_error");
        break;
      }
      sink_.wait_for_capacity(std::chrono::milliseconds(200));
    }
    batch.clear();
  };
  const auto take_line = [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    Metric metric;
    const ParseResult result = parse_json_record(line, metric);
    if (result.ok()) {
      batch.push_back(std::move(metric));
      if (batch.size() == kBatchRecords) hand_over();
    } else {
      hand_over();  // keep the counters in arrival order
      sink_.reject("tcp", to_string(result.reason));
    }
  };

  for (;;) {
    // Push back: read nothing more while the pipeline is full.
    while (!stopping_ && !sink_.wait_for_capacity(std::chrono::milliseconds(200))) {
    }
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view data(chunk.data(), static_cast<std::size_t>(n));
    while (!data.empty()) {
      const auto newline = data.find('\n');
      if (discarding) {
        if (newline == std::string_view::npos) break;
        discarding = false;
        data.remove_prefix(newline + 1);
        continue;
      }
      if (newline == std::string_view::npos) {
        buffer.append(data);
        if (buffer.size() > options_.max_line_bytes) {
          hand_over();
          sink_.reject("tcp", to_string(RejectReason::line_too_long));
          buffer.clear();
          discarding = true;
        }
        break;
      }
      if (buffer.size() + newline > options_.max_line_bytes) {
        hand_over();
        sink_.reject("tcp", to_string(RejectReason::line_too_long));
        buffer.clear();
      } else if (buffer.empty()) {
        take_line(data.substr(0, newline));
      } else {
        buffer.append(data.substr(0, newline));
        take_line(buffer);
        buffer.clear();
      }
      data.remove_prefix(newline + 1);
    }
    hand_over();
  }
  if (!discarding && !buffer.empty()) take_line(buffer);  // a last line without its newline
  hand_over();
}

}  // namespace flowmetrics::ingest
