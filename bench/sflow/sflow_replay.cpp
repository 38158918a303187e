// sflow_replay: sends a stream of sFlow v5 datagrams over UDP at a given sample rate, for the
// sFlow benchmark (bench/sflow/run.sh).
//
//   sflow_replay --target 127.0.0.1:6343 --keys 100000 --rate 200000 --seconds 10
//                [--samples-per-datagram 6] [--sampling-rate 512] [--write FILE] [--read FILE]
//
// The stream is one pass over `keys` distinct IPv4 five-tuples (10.x.y.z -> 172.16.x.y, ports
// and TCP/UDP varying), each a compact flow sample (one source id) with an extended switch
// record and a 128-byte sampled Ethernet header (frame length 1,000 bytes), the way a switch
// exports them; `samples-per-datagram` samples a datagram (6 make 1,324 bytes, under a
// 1,500-byte MTU), repeated for as long as asked. --write saves the recorded pass and --read replays a saved
// one (the same file format as netflow_replay), so every collector of a run gets the same
// datagrams; only the datagram and sample sequence numbers and the uptime are rewritten as
// they go out, so a collector sees no sequence gap. Prints what it sent as one JSON line
// ("records" are samples), as netflow_replay does, so bench/netflow/measure.py's code drives it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string target = "127.0.0.1:6343";
  std::size_t keys = 100'000;
  double rate = 200'000;  // samples per second
  double seconds = 10;
  std::size_t per_datagram = 6;
  std::uint32_t sampling_rate = 512;
  std::string write_file, read_file;
};

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}
void set32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

constexpr std::size_t kHeaderBytes = 128;
constexpr std::uint32_t kFrameLength = 1'000;
// Offsets in a datagram: its sequence number and uptime; a sample's sequence number and sample
// pool are at kSampleSequence / kSamplePool after the sample's start.
constexpr std::size_t kDatagramSequence = 16;
constexpr std::size_t kDatagramUptime = 20;
constexpr std::size_t kSampleSequence = 8;
constexpr std::size_t kSamplePool = 20;

struct Stream {
  std::vector<std::vector<std::uint8_t>> data;  // one pass over the keys
  std::vector<std::uint32_t> records;           // samples in each datagram
};

// The 128 bytes an agent copies of a 1,000-byte frame: Ethernet, IPv4, TCP or UDP, payload.
void sampled_frame(std::vector<std::uint8_t>& b, std::uint32_t key) {
  const std::size_t start = b.size();
  const bool udp = key % 3 == 0;
  for (const int m : {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}) b.push_back(static_cast<std::uint8_t>(m));
  put16(b, 0x0800);
  put32(b, 0x45000000u | (kFrameLength - 18));  // version, IHL, total length
  put32(b, 0x00004000u);                        // id, DF
  put32(b, (64u << 24) | (udp ? 17u << 16 : 6u << 16));
  put32(b, 0x0a000000u | (key & 0xffffff));          // 10.x.y.z
  put32(b, 0xac100000u | ((key * 7919u) & 0xffff));  // 172.16.x.y
  put16(b, static_cast<std::uint16_t>(1024 + key % 50'000));
  put16(b, static_cast<std::uint16_t>(udp ? 53 : 443));
  while (b.size() - start < kHeaderBytes) b.push_back(0x78);
}

Stream record(const Options& o) {
  Stream s;
  for (std::size_t first = 0; first < o.keys; first += o.per_datagram) {
    const std::size_t n = std::min(o.per_datagram, o.keys - first);
    std::vector<std::uint8_t> d;
    put32(d, 5);
    put32(d, 1);
    put32(d, 0xc0000201u);  // agent 192.0.2.1
    put32(d, 0);            // sub-agent
    put32(d, 0);            // sequence, at send
    put32(d, 0);            // uptime, at send
    put32(d, static_cast<std::uint32_t>(n));
    for (std::size_t k = first; k < first + n; ++k) {
      put32(d, 1);  // flow sample
      const std::size_t length_at = d.size();
      put32(d, 0);
      put32(d, 0);  // sequence, at send
      put32(d, 7);  // source id: ifIndex 7
      put32(d, o.sampling_rate);
      put32(d, 0);     // sample pool, at send
      put32(d, 0);     // drops
      put32(d, 7);     // input
      put32(d, 9);     // output
      put32(d, 2);     // records
      put32(d, 1001);  // extended switch
      put32(d, 16);
      put32(d, 10);
      put32(d, 0);
      put32(d, 10);
      put32(d, 0);
      put32(d, 1);  // sampled header
      put32(d, 16 + kHeaderBytes);
      put32(d, 1);  // Ethernet
      put32(d, kFrameLength);
      put32(d, 4);  // stripped: the FCS
      put32(d, kHeaderBytes);
      sampled_frame(d, static_cast<std::uint32_t>(k));
      set32(d.data() + length_at, static_cast<std::uint32_t>(d.size() - length_at - 4));
    }
    s.data.push_back(std::move(d));
    s.records.push_back(static_cast<std::uint32_t>(n));
  }
  return s;
}

void save(const Stream& s, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  const std::int32_t version = 5;
  out.write(reinterpret_cast<const char*>(&version), 4);
  const std::uint32_t none[2] = {0, 0};  // netflow_replay's template slot, empty
  out.write(reinterpret_cast<const char*>(none), 8);
  for (std::size_t i = 0; i < s.data.size(); ++i) {
    const std::uint32_t size = static_cast<std::uint32_t>(s.data[i].size());
    out.write(reinterpret_cast<const char*>(&size), 4);
    out.write(reinterpret_cast<const char*>(&s.records[i]), 4);
    out.write(reinterpret_cast<const char*>(s.data[i].data()), static_cast<std::streamsize>(size));
  }
}

Stream load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  Stream s;
  std::int32_t version = 0;
  in.read(reinterpret_cast<char*>(&version), 4);
  if (version != 5) throw std::runtime_error(path + " is not an sFlow stream");
  for (bool first = true;; first = false) {
    std::uint32_t size = 0, records = 0;
    if (!in.read(reinterpret_cast<char*>(&size), 4) || !in.read(reinterpret_cast<char*>(&records), 4)) break;
    std::vector<std::uint8_t> d(size);
    in.read(reinterpret_cast<char*>(d.data()), size);
    if (first) continue;  // the empty template slot
    s.data.push_back(std::move(d));
    s.records.push_back(records);
  }
  return s;
}

sockaddr_storage parse_target(const std::string& text, socklen_t& length) {
  sockaddr_storage storage{};
  const bool v6 = text.starts_with('[');
  const auto colon = text.rfind(':');
  const std::string host = v6 ? text.substr(1, text.find(']') - 1) : text.substr(0, colon);
  const auto port = static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1)));
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) throw std::runtime_error("bad address " + text);
    length = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) throw std::runtime_error("bad address " + text);
    length = sizeof(sockaddr_in);
  }
  return storage;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--target")
      o.target = value();
    else if (arg == "--keys")
      o.keys = std::stoul(value());
    else if (arg == "--rate")
      o.rate = std::stod(value());
    else if (arg == "--seconds")
      o.seconds = std::stod(value());
    else if (arg == "--samples-per-datagram")
      o.per_datagram = std::stoul(value());
    else if (arg == "--sampling-rate")
      o.sampling_rate = static_cast<std::uint32_t>(std::stoul(value()));
    else if (arg == "--write")
      o.write_file = value();
    else if (arg == "--read")
      o.read_file = value();
    else
      throw std::runtime_error("unknown option " + arg);
  }
  if (o.per_datagram == 0 || o.per_datagram > 40) throw std::runtime_error("--samples-per-datagram: 1 to 40");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  Stream s = o.read_file.empty() ? record(o) : load(o.read_file);
  if (!o.write_file.empty()) {
    save(s, o.write_file);
    if (o.seconds <= 0) return 0;
  }

  std::uint64_t keys = 0;
  for (const std::uint32_t n : s.records) keys += n;
  socklen_t length = 0;
  const sockaddr_storage target = parse_target(o.target, length);
  const int fd = ::socket(target.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&target), length) != 0) {
    throw std::runtime_error("cannot connect to " + o.target + ": " + std::strerror(errno));
  }
  const int sndbuf = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(o.seconds);
  std::uint64_t sent_records = 0, sent_datagrams = 0, send_errors = 0, unsent_records = 0;
  std::uint32_t datagram_sequence = 0, sample_sequence = 0;
  std::size_t next = 0;

  // Fills in the sequence numbers, sample pools and uptime of datagram `i` as it goes out.
  const auto stamp = [&](std::size_t i) {
    std::vector<std::uint8_t>& d = s.data[i];
    set32(d.data() + kDatagramSequence, ++datagram_sequence);
    const auto uptime_ms = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
    set32(d.data() + kDatagramUptime, uptime_ms);
    std::size_t at = 28;
    for (std::uint32_t r = 0; r < s.records[i]; ++r) {
      ++sample_sequence;
      set32(d.data() + at + kSampleSequence, sample_sequence);
      set32(d.data() + at + kSamplePool, sample_sequence * o.sampling_rate);
      const std::uint32_t sample_length = (std::uint32_t{d[at + 4]} << 24) | (std::uint32_t{d[at + 5]} << 16) |
                                          (std::uint32_t{d[at + 6]} << 8) | d[at + 7];
      at += 8 + sample_length;
    }
  };

  // Paced in slices of 1 ms: each slice sends what the rate allows up to then.
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;
  std::vector<std::vector<std::uint8_t>*> batch;
  std::vector<std::uint32_t> batch_counts;
  while (std::chrono::steady_clock::now() < deadline) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto allowed = static_cast<std::uint64_t>(elapsed * o.rate);
    batch.clear();
    batch_counts.clear();
    std::uint64_t batch_records = 0;
    while (sent_records + unsent_records + batch_records < allowed && batch.size() < 256) {
      stamp(next);
      batch.push_back(&s.data[next]);
      batch_counts.push_back(s.records[next]);
      batch_records += s.records[next];
      next = (next + 1) % s.data.size();
    }
    if (batch.empty()) {
      timespec pause{0, 200'000};
      ::nanosleep(&pause, nullptr);
      continue;
    }
    iov.resize(batch.size());
    msgs.assign(batch.size(), mmsghdr{});
    for (std::size_t i = 0; i < batch.size(); ++i) {
      iov[i] = {batch[i]->data(), batch[i]->size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    std::size_t done = 0;
    while (done < msgs.size()) {
      const int n = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(msgs.size() - done), 0);
      if (n <= 0) {
        ++send_errors;
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    sent_datagrams += done;
    for (std::size_t i = 0; i < done; ++i) sent_records += batch_counts[i];
    if (done < batch.size()) {  // not sent: counted as offered all the same, to keep the pace
      for (std::size_t i = done; i < batch.size(); ++i) unsent_records += batch_counts[i];
    }
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"version\": 5, \"records\": %llu, \"datagrams\": %llu, \"seconds\": %.3f, \"rate\": %.0f, "
      "\"keys\": %llu, \"send_errors\": %llu, \"unsent_records\": %llu}\n",
      static_cast<unsigned long long>(sent_records), static_cast<unsigned long long>(sent_datagrams), took,
      static_cast<double>(sent_records) / took, static_cast<unsigned long long>(keys),
      static_cast<unsigned long long>(send_errors), static_cast<unsigned long long>(unsent_records));
  ::close(fd);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "sflow_replay: %s\n", e.what());
  return 2;
}
