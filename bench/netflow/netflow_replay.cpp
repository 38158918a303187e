// netflow_replay: sends a stream of NetFlow v9 or IPFIX export datagrams over UDP at a given
// record rate, for the NetFlow benchmark (bench/netflow/run.sh).
//
//   netflow_replay --target 127.0.0.1:2055 --version 9|10 --keys 100000 --rate 500000
//                  --seconds 10 [--records-per-datagram 30] [--template-every 1000]
//                  [--write FILE] [--read FILE]
//
// The stream is one pass over `keys` distinct IPv4 five-tuples (10.x.y.z -> 172.16.x.y,
// ports and TCP/UDP varying), `records-per-datagram` flow records a datagram, repeated for as
// long as asked. Every record says 1 packet and 100 bytes, so a collector's packet total is
// the number of records it took. The template goes in a datagram of its own before the first
// data and again every `template-every` data datagrams. --write saves the recorded pass (one
// length-prefixed datagram after another) and --read replays a saved one, so every collector
// of a run gets byte-identical datagrams (only the header's sequence number and times are
// rewritten as they go out). Prints what it sent as one JSON line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
  std::string target = "127.0.0.1:2055";
  int version = 9;
  std::size_t keys = 100'000;
  double rate = 500'000;  // records per second
  double seconds = 10;
  std::size_t per_datagram = 30;
  std::size_t template_every = 1'000;
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
void put64(std::vector<std::uint8_t>& b, std::uint64_t v) {
  put32(b, static_cast<std::uint32_t>(v >> 32));
  put32(b, static_cast<std::uint32_t>(v));
}
void set16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void set32(std::uint8_t* p, std::uint32_t v) {
  set16(p, static_cast<std::uint16_t>(v >> 16));
  set16(p + 2, static_cast<std::uint16_t>(v));
}

constexpr std::uint16_t kTemplateId = 256;
// (IE, length): addresses, ports, protocol, bytes, packets, then the flow's times: v9
// FIRST/LAST_SWITCHED (sysUptime ms), IPFIX flowStart/EndMilliseconds.
constexpr std::uint16_t kFieldsV9[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 4}, {2, 4}, {22, 4}, {21, 4}};
constexpr std::uint16_t kFieldsIpfix[][2] = {{8, 4}, {12, 4}, {7, 2},   {11, 2}, {4, 1},
                                             {1, 8}, {2, 8},  {152, 8}, {153, 8}};

struct Stream {
  int version = 9;
  std::vector<std::uint8_t> template_datagram;
  std::vector<std::vector<std::uint8_t>> data;  // one pass over the keys
  std::vector<std::uint32_t> records;           // records in each data datagram
};

void header(std::vector<std::uint8_t>& b, int version, std::uint16_t count) {
  if (version == 9) {
    put16(b, 9);
    put16(b, count);  // records (template and data) in the datagram
    put32(b, 0);      // sysUptime, set when sent
    put32(b, 0);      // unix secs, set when sent
    put32(b, 0);      // sequence, set when sent
    put32(b, 1);      // source id
  } else {
    put16(b, 10);
    put16(b, 0);  // length, set below
    put32(b, 0);  // export time, set when sent
    put32(b, 0);  // sequence, set when sent
    put32(b, 1);  // observation domain
  }
}

void finish(std::vector<std::uint8_t>& b, int version) {
  if (version == 10) set16(b.data() + 2, static_cast<std::uint16_t>(b.size()));
}

Stream record(const Options& o) {
  Stream s;
  s.version = o.version;
  const bool v9 = o.version == 9;
  const auto& fields = v9 ? kFieldsV9 : kFieldsIpfix;
  const std::size_t field_count = std::size(kFieldsV9);

  auto& t = s.template_datagram;
  header(t, o.version, 1);
  put16(t, v9 ? 0 : 2);  // template set
  put16(t, static_cast<std::uint16_t>(4 + 4 + 4 * field_count));
  put16(t, kTemplateId);
  put16(t, static_cast<std::uint16_t>(field_count));
  for (const auto& f : fields) {
    put16(t, f[0]);
    put16(t, f[1]);
  }
  finish(t, o.version);

  const auto now_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (std::size_t first = 0; first < o.keys; first += o.per_datagram) {
    const std::size_t n = std::min(o.per_datagram, o.keys - first);
    std::vector<std::uint8_t> d;
    header(d, o.version, static_cast<std::uint16_t>(n));
    put16(d, kTemplateId);
    const std::size_t set_start = d.size();
    put16(d, 0);  // set length, below
    for (std::size_t k = first; k < first + n; ++k) {
      const auto key = static_cast<std::uint32_t>(k);
      put32(d, 0x0a000000u | (key & 0xffffff));          // 10.x.y.z
      put32(d, 0xac100000u | ((key * 7919u) & 0xffff));  // 172.16.x.y
      put16(d, static_cast<std::uint16_t>(1024 + key % 50'000));
      put16(d, static_cast<std::uint16_t>(key % 3 == 0 ? 53 : 443));
      d.push_back(key % 3 == 0 ? 17 : 6);
      if (v9) {
        put32(d, 100);
        put32(d, 1);
        put32(d, 0);  // FIRST_SWITCHED / LAST_SWITCHED: sysUptime-relative, patched at send
        put32(d, 0);
      } else {
        put64(d, 100);
        put64(d, 1);
        put64(d, now_ms - 900);  // flowStart/EndMilliseconds, patched at send
        put64(d, now_ms - 100);
      }
    }
    while ((d.size() - set_start) % 4 != 0) d.push_back(0);  // set padding
    set16(d.data() + set_start, static_cast<std::uint16_t>(d.size() - set_start + 2));
    finish(d, o.version);
    s.data.push_back(std::move(d));
    s.records.push_back(static_cast<std::uint32_t>(n));
  }
  return s;
}

void save(const Stream& s, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  const auto write = [&](const std::vector<std::uint8_t>& d, std::uint32_t records) {
    const std::uint32_t size = static_cast<std::uint32_t>(d.size());
    out.write(reinterpret_cast<const char*>(&size), 4);
    out.write(reinterpret_cast<const char*>(&records), 4);
    out.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
  };
  out.write(reinterpret_cast<const char*>(&s.version), 4);
  write(s.template_datagram, 0);
  for (std::size_t i = 0; i < s.data.size(); ++i) write(s.data[i], s.records[i]);
}

Stream load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  Stream s;
  in.read(reinterpret_cast<char*>(&s.version), 4);
  bool first = true;
  for (;;) {
    std::uint32_t size = 0, records = 0;
    if (!in.read(reinterpret_cast<char*>(&size), 4) || !in.read(reinterpret_cast<char*>(&records), 4)) break;
    std::vector<std::uint8_t> d(size);
    in.read(reinterpret_cast<char*>(d.data()), size);
    if (first) {
      s.template_datagram = std::move(d);
      first = false;
    } else {
      s.data.push_back(std::move(d));
      s.records.push_back(records);
    }
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
    else if (arg == "--version")
      o.version = std::stoi(value());
    else if (arg == "--keys")
      o.keys = std::stoul(value());
    else if (arg == "--rate")
      o.rate = std::stod(value());
    else if (arg == "--seconds")
      o.seconds = std::stod(value());
    else if (arg == "--records-per-datagram")
      o.per_datagram = std::stoul(value());
    else if (arg == "--template-every")
      o.template_every = std::stoul(value());
    else if (arg == "--write")
      o.write_file = value();
    else if (arg == "--read")
      o.read_file = value();
    else
      throw std::runtime_error("unknown option " + arg);
  }
  if (o.version != 9 && o.version != 10) throw std::runtime_error("--version must be 9 or 10");
  if (o.per_datagram == 0 || o.per_datagram > 40) throw std::runtime_error("--records-per-datagram: 1 to 40");
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
  const auto wall_start = std::chrono::system_clock::now();
  const auto deadline = start + std::chrono::duration<double>(o.seconds);
  std::uint64_t sent_records = 0, sent_datagrams = 0, send_errors = 0, unsent_records = 0;
  std::uint32_t sequence = 0;  // v9: datagrams; IPFIX: records
  std::size_t next = 0, since_template = o.template_every;

  // Fills the header of `d` (sequence, times) as it goes out.
  const auto stamp = [&](std::vector<std::uint8_t>& d, std::uint32_t records) {
    const auto now = std::chrono::system_clock::now();
    const auto uptime_ms = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - wall_start).count() + 60'000);
    const auto secs = static_cast<std::uint32_t>(std::chrono::system_clock::to_time_t(now));
    if (s.version == 9) {
      set32(d.data() + 4, uptime_ms);
      set32(d.data() + 8, secs);
      set32(d.data() + 12, sequence);
      ++sequence;
      if (records > 0) {
        // FIRST/LAST_SWITCHED of every record: a second ago and just now, in sysUptime.
        const std::size_t record_bytes = 29;
        for (std::uint32_t r = 0; r < records; ++r) {
          std::uint8_t* rec = d.data() + 20 + 4 + r * record_bytes;
          set32(rec + 21, uptime_ms - 900);
          set32(rec + 25, uptime_ms - 100);
        }
      }
    } else {
      set32(d.data() + 4, secs);
      set32(d.data() + 8, sequence);
      sequence += records;
      // flowStart/EndMilliseconds of every record: a second ago and just now.
      const auto now_ms = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
      const std::size_t record_bytes = 45;
      for (std::uint32_t r = 0; r < records; ++r) {
        std::uint8_t* rec = d.data() + 16 + 4 + r * record_bytes;
        set32(rec + 29, static_cast<std::uint32_t>((now_ms - 900) >> 32));
        set32(rec + 33, static_cast<std::uint32_t>(now_ms - 900));
        set32(rec + 37, static_cast<std::uint32_t>((now_ms - 100) >> 32));
        set32(rec + 41, static_cast<std::uint32_t>(now_ms - 100));
      }
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
      if (since_template >= o.template_every) {
        stamp(s.template_datagram, 0);
        batch.push_back(&s.template_datagram);
        batch_counts.push_back(0);
        since_template = 0;
        continue;
      }
      stamp(s.data[next], s.records[next]);
      batch.push_back(&s.data[next]);
      batch_counts.push_back(s.records[next]);
      batch_records += s.records[next];
      ++since_template;
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
      "{\"version\": %d, \"records\": %llu, \"datagrams\": %llu, \"seconds\": %.3f, \"rate\": %.0f, "
      "\"keys\": %llu, \"send_errors\": %llu, \"unsent_records\": %llu}\n",
      s.version, static_cast<unsigned long long>(sent_records), static_cast<unsigned long long>(sent_datagrams), took,
      static_cast<double>(sent_records) / took, static_cast<unsigned long long>(keys),
      static_cast<unsigned long long>(send_errors), static_cast<unsigned long long>(unsent_records));
  ::close(fd);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "netflow_replay: %s\n", e.what());
  return 2;
}
