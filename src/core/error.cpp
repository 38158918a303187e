#include <string>

#include "flowmetrics/error.hpp"

namespace flowmetrics {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "flowmetrics"; }

  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::invalid_argument: return "invalid argument";
      case errc::agent_closed: return "agent closed";
      case errc::pool_wait_timeout: return "timed out waiting for a pooled connection";
      case errc::server_unreachable: return "server unreachable";
      case errc::network_error: return "network error";
      case errc::deadline_exceeded: return "deadline exceeded";
      case errc::authentication_failed: return "authentication failed";
      case errc::server_error: return "server error";
      case errc::index_conflict: return "index conflict";
      case errc::not_supported: return "not supported by the server";
      case errc::write_failed: return "write failed";
    }
    return "unknown flowmetrics error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace flowmetrics
