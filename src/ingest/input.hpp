#pragma once

#include <string>

namespace flowmetrics::ingest {

// A source of records that feeds a pipeline::RecordSink. The TCP and HTTP inputs implement
// it, and so will NetFlow/IPFIX; the serve command starts and stops them all alike.
class Input {
 public:
  virtual ~Input() = default;
  virtual std::string name() const = 0;
  // Binds and starts serving; throws std::runtime_error with the address when it cannot.
  virtual void start() = 0;
  // Stops taking new records and returns once the records already read were handed to the
  // sink. Idempotent.
  virtual void stop() = 0;
  // The address actually bound ("127.0.0.1:5170"), useful when configured with port 0.
  virtual std::string bound_address() const = 0;
};

}  // namespace flowmetrics::ingest
