#pragma once

// One move-only owner per C handle of the driver. Nothing outside src/mongo sees these.

#include <mongoc/mongoc.h>

#include <memory>
#include <utility>

namespace flowmetrics::mongo {

template <typename T, void (*Destroy)(T*)>
struct HandleDeleter {
  void operator()(T* handle) const noexcept {
    if (handle != nullptr) Destroy(handle);
  }
};

// Owns one heap bson_t. Written out rather than a unique_ptr alias because bson_t carries
// an alignment attribute that a template argument would silently drop.
class BsonPtr {
 public:
  BsonPtr() noexcept = default;
  explicit BsonPtr(bson_t* doc) noexcept : doc_(doc) {}
  BsonPtr(BsonPtr&& other) noexcept : doc_(std::exchange(other.doc_, nullptr)) {}
  BsonPtr& operator=(BsonPtr&& other) noexcept {
    if (this != &other) {
      reset();
      doc_ = std::exchange(other.doc_, nullptr);
    }
    return *this;
  }
  BsonPtr(const BsonPtr&) = delete;
  BsonPtr& operator=(const BsonPtr&) = delete;
  ~BsonPtr() { reset(); }

  bson_t* get() const noexcept { return doc_; }
  bson_t* operator->() const noexcept { return doc_; }
  explicit operator bool() const noexcept { return doc_ != nullptr; }
  void reset() noexcept {
    if (doc_ != nullptr) bson_destroy(std::exchange(doc_, nullptr));
  }

 private:
  bson_t* doc_ = nullptr;
};
using UriPtr = std::unique_ptr<mongoc_uri_t, HandleDeleter<mongoc_uri_t, mongoc_uri_destroy>>;
using ClientPtr = std::unique_ptr<mongoc_client_t, HandleDeleter<mongoc_client_t, mongoc_client_destroy>>;
using CollectionPtr =
    std::unique_ptr<mongoc_collection_t, HandleDeleter<mongoc_collection_t, mongoc_collection_destroy>>;
using BulkPtr =
    std::unique_ptr<mongoc_bulk_operation_t, HandleDeleter<mongoc_bulk_operation_t, mongoc_bulk_operation_destroy>>;
using CursorPtr = std::unique_ptr<mongoc_cursor_t, HandleDeleter<mongoc_cursor_t, mongoc_cursor_destroy>>;
using DatabasePtr = std::unique_ptr<mongoc_database_t, HandleDeleter<mongoc_database_t, mongoc_database_destroy>>;
// A NULL-terminated array of strings the driver allocated (collection names).
using StringListPtr = std::unique_ptr<char*, HandleDeleter<char*, bson_strfreev>>;

inline BsonPtr make_bson() {
  return BsonPtr(bson_new());
}

// A bson_t on the stack that is always destroyed, for replies the driver initialises.
class Reply {
 public:
  Reply() { bson_init(&doc_); }
  ~Reply() { bson_destroy(&doc_); }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  // For driver calls that initialise the reply themselves: destroys the current one first.
  bson_t* reset() {
    bson_destroy(&doc_);
    return &doc_;
  }
  const bson_t* get() const { return &doc_; }

 private:
  bson_t doc_;
};

// Initialises the driver once per process (mongoc_init is not idempotent-safe to race).
void ensure_driver_initialized();

}  // namespace flowmetrics::mongo
