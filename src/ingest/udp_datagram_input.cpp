#include "ingest/udp_datagram_input.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <stdexcept>

#include "core/thread_guard.hpp"
#include "ingest/socket_address.hpp"

namespace flowmetrics::ingest {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kBatchDatagrams = 64;
constexpr std::size_t kDatagramBytes = 64 * 1024;  // above the largest UDP payload (65,507)
constexpr std::size_t kChunkRecords = 4'096;       // records per submit()
constexpr auto kPollTimeout = 100ms;               // bounds how long stop() waits
// After a partial batch, wait this long before receiving again, so that batches (and the
// chunks handed to the sink) grow under load instead of costing two syscalls, a sleep and a
// wake-up per datagram or few. 2 ms of a 500k records/s stream is ~33 datagrams (half a
// batch), far below what the receive buffer holds (hundreds of ms at that rate).
constexpr auto kCoalesce = 2ms;
constexpr auto kHandOverAfter = 20ms;  // decoded records wait at most this long for their chunk
constexpr auto kStatsInterval = 200ms;
constexpr auto kExpireInterval = 1s;

#ifdef SO_RXQ_OVFL
constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(std::uint32_t));
#else
constexpr std::size_t kControlBytes = 0;
#endif

// The receive buffers of one recvmmsg call, allocated once.
struct ReceiveBatch {
  std::vector<std::uint8_t> data = std::vector<std::uint8_t>(kBatchDatagrams * kDatagramBytes);
  std::vector<sockaddr_storage> from = std::vector<sockaddr_storage>(kBatchDatagrams);
  std::vector<iovec> iov = std::vector<iovec>(kBatchDatagrams);
  std::vector<mmsghdr> headers = std::vector<mmsghdr>(kBatchDatagrams);
  std::vector<std::uint8_t> control = std::vector<std::uint8_t>(kBatchDatagrams * (kControlBytes + 1));

  // recvmmsg overwrites the lengths: set them again before each call.
  void reset() {
    for (std::size_t i = 0; i < kBatchDatagrams; ++i) {
      iov[i] = {data.data() + i * kDatagramBytes, kDatagramBytes};
      msghdr& h = headers[i].msg_hdr;
      h = {};
      h.msg_name = &from[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      if (kControlBytes > 0) {
        h.msg_control = control.data() + i * kControlBytes;
        h.msg_controllen = kControlBytes;
      }
      headers[i].msg_len = 0;
    }
  }
};

// The socket's drop counter carried by one datagram, if it carries one.
bool kernel_drop_count(msghdr& header, std::uint32_t& count) {
#ifdef SO_RXQ_OVFL
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      std::memcpy(&count, CMSG_DATA(c), sizeof(count));
      return true;
    }
  }
#else
  (void)header;
  (void)count;
#endif
  return false;
}

}  // namespace

UdpDatagramInput::UdpDatagramInput(UdpInputOptions options, std::shared_ptr<DatagramDecoder> decoder,
                                   pipeline::RecordSink& sink)
    : options_(std::move(options)), decoder_(std::move(decoder)), sink_(sink) {}

UdpDatagramInput::~UdpDatagramInput() {
  stop();
}

void UdpDatagramInput::start() {
  const SocketAddress address = parse_socket_address(options_.listen);
  fd_ = ::socket(address.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  if (options_.receive_buffer_bytes > 0) {
    const int wanted = static_cast<int>(std::min<std::size_t>(options_.receive_buffer_bytes, INT32_MAX / 2));
    // SO_RCVBUFFORCE passes net.core.rmem_max when the process may (CAP_NET_ADMIN).
    if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof(wanted)) != 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &wanted, sizeof(wanted));
    }
  }
  int granted = 0;
  socklen_t length = sizeof(granted);
  ::getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &granted, &length);
  receive_buffer_bytes_ = static_cast<std::size_t>(granted);
  // Linux reports twice the size it granted; less than asked means rmem_max capped it.
  if (options_.receive_buffer_bytes > 0 && receive_buffer_bytes_ < options_.receive_buffer_bytes) {
    spdlog::warn(
        "{}: asked for a {} byte receive buffer, the kernel granted {} (raise net.core.rmem_max to allow more)",
        options_.name, options_.receive_buffer_bytes, receive_buffer_bytes_ / 2);
  }
#ifdef SO_RXQ_OVFL
  const int one = 1;
  kernel_drops_supported_ = ::setsockopt(fd_, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) == 0;
#endif
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot listen on " + options_.listen + " (udp): " + error);
  }
  sockaddr_storage bound{};
  length = sizeof(bound);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  bound_ = to_string(reinterpret_cast<sockaddr*>(&bound));
  submitter_ = std::thread(
      [this] { run_guarded(options_.name + " submitter", OnEscape::stop_process, [this] { submit_loop(); }); });
  receiver_ = std::thread(
      [this] { run_guarded(options_.name + " receiver", OnEscape::stop_process, [this] { receive_loop(); }); });
}

void UdpDatagramInput::stop() {
  if (stopping_.exchange(true)) return;
  if (receiver_.joinable()) receiver_.join();
  {
    std::lock_guard lock(queue_mu_);
    receiver_done_ = true;
  }
  queue_cv_.notify_one();
  if (submitter_.joinable()) submitter_.join();  // after the queued chunks went to the sink
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

UdpInputStats UdpDatagramInput::stats() const {
  UdpInputStats s;
  s.datagrams = datagrams_.load();
  s.datagram_bytes = datagram_bytes_.load();
  s.records = records_.load();
  s.records_dropped = records_dropped_.load();
  s.kernel_drops = kernel_drops_.load();
  s.kernel_drops_supported = kernel_drops_supported_;
  s.receive_buffer_bytes = receive_buffer_bytes_;
  return s;
}

void UdpDatagramInput::drop(std::size_t count, std::string_view reason) {
  records_dropped_ += count;
  sink_.drop(options_.name, count, reason);
}

void UdpDatagramInput::hand_over(std::vector<FlowUpdate>& records) {
  if (records.empty()) return;
  records_ += records.size();
  const std::size_t count = records.size();
  bool queued = false;
  {
    std::unique_lock lock(queue_mu_);
    // Wait for room while the sink takes records: the datagrams wait in the socket meanwhile.
    // A stop takes what was decoded whatever the queue holds.
    while (queued_records_ + count > options_.max_queued_records && !queue_.empty() && !stopping_) {
      if (sink_.saturated()) break;  // refused anyway: the submitter drops what waits
      queue_space_.wait_for(lock, kPollTimeout);
    }
    if (queued_records_ + count <= options_.max_queued_records || queue_.empty() || stopping_) {
      queued_records_ += count;
      queue_.push_back(std::move(records));
      records.clear();  // moved from: valid, and made empty (the chunk becomes the spooled batch)
      queued = true;
    }
  }
  if (queued) {
    records.reserve(kChunkRecords + 1'024);
    queue_cv_.notify_one();
  } else {  // the sink refuses and this many wait for it: these go
    drop(count, sink_.io_error() ? "spool_error" : "spool_full");
    records.clear();
  }
}

void UdpDatagramInput::submit_loop() {
  std::vector<std::vector<FlowUpdate>> taken;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return !queue_.empty() || receiver_done_; });
      if (queue_.empty()) return;  // done, and nothing left
      while (!queue_.empty()) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_records_ = 0;
    }
    queue_space_.notify_one();
    // One submit for everything that queued up (usually one chunk; many while the sink was
    // slow), so its per-call cost is shared. The chunk itself becomes the spooled batch (no
    // copy of its records); several are merged into one first.
    std::vector<FlowUpdate> batch;
    if (taken.size() == 1) {
      batch = std::move(taken.front());
    } else {
      std::size_t total = 0;
      for (const auto& chunk : taken) total += chunk.size();
      batch.reserve(total);
      for (const auto& chunk : taken) batch.insert(batch.end(), chunk.begin(), chunk.end());
    }
    taken.clear();
    const std::size_t count = batch.size();
    // UDP cannot push back: what the spool cannot take is dropped, and counted by why.
    if (sink_.saturated()) {
      drop(count, sink_.io_error() ? "spool_error" : "spool_full");
    } else if (const auto admission = sink_.submit_flows_owned(std::move(batch), options_.name);
               admission == pipeline::Admission::full) {
      drop(count, "spool_full");
    } else if (admission == pipeline::Admission::io_error) {
      drop(count, "spool_error");
    }
  }
}

void UdpDatagramInput::receive_loop() {
  DatagramDecoder& decoder = *decoder_;
  ReceiveBatch batch;
  std::vector<FlowUpdate> records;
  records.reserve(kChunkRecords + 1'024);
  auto next_stats = std::chrono::steady_clock::now() + kStatsInterval;
  auto next_expire = std::chrono::steady_clock::now() + kExpireInterval;

  // Decodes the n datagrams of the last recvmmsg and hands their records on.
  const auto take = [&](int n) {
    const auto received = std::chrono::system_clock::now();
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
      mmsghdr& m = batch.headers[i];
      bytes += m.msg_len;
      std::uint32_t drops = 0;
      if (kernel_drop_count(m.msg_hdr, drops)) kernel_drops_.store(drops, std::memory_order_relaxed);
      const std::span<const std::uint8_t> datagram(batch.data.data() + i * kDatagramBytes, m.msg_len);
      decoder.decode(batch.from[i], datagram, received, records);
      if (records.size() >= kChunkRecords) hand_over(records);
    }
    datagrams_ += static_cast<std::uint64_t>(n);
    datagram_bytes_ += bytes;
  };

  auto pending_since = std::chrono::steady_clock::now();  // when `records` last became non-empty
  while (!stopping_) {
    batch.reset();
    const int n = ::recvmmsg(fd_, batch.headers.data(), kBatchDatagrams, MSG_DONTWAIT, nullptr);
    if (n > 0) {
      if (records.empty()) pending_since = std::chrono::steady_clock::now();
      take(n);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      spdlog::error("{}: recvmmsg on {}: {}", options_.name, bound_, std::strerror(errno));
      std::this_thread::sleep_for(kPollTimeout);
    }

    const auto now = std::chrono::steady_clock::now();
    // The socket is empty (the stream is slow) or the chunk has waited long enough.
    if (!records.empty() && (n <= 0 || now - pending_since >= kHandOverAfter)) hand_over(records);
    if (now >= next_expire) {
      decoder.expire(std::chrono::system_clock::now());
      next_expire = now + kExpireInterval;
    }
    if (now >= next_stats) {
      decoder.publish();
      next_stats = now + kStatsInterval;
    }
    if (n == static_cast<int>(kBatchDatagrams)) continue;  // more is waiting
    if (n > 0) {
      std::this_thread::sleep_for(kCoalesce);
      continue;
    }
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(kPollTimeout.count()));
  }

  // What the kernel still holds was sent before the stop: take it too, for a bounded time
  // (an exporter that keeps sending must not hold up the stop).
  const auto give_up = std::chrono::steady_clock::now() + 5 * kPollTimeout;
  while (std::chrono::steady_clock::now() < give_up) {
    batch.reset();
    const int n = ::recvmmsg(fd_, batch.headers.data(), kBatchDatagrams, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    take(n);
  }
  hand_over(records);
  decoder.publish();
}

}  // namespace flowmetrics::ingest
