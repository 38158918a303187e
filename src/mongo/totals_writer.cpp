#include "mongo/totals_writer.hpp"

#include <algorithm>
#include <optional>

#include "mongo/error_translation.hpp"
#include "mongo/handles.hpp"
#include "mongo/write_attempts.hpp"

namespace flowmetrics::mongo {
namespace {

using Clock = ConnectionPool::Clock;

// How many times in a row a document may lose a race (a concurrent insert or update between
// our read and our write) before its write is given up.
constexpr int kMaxRaces = 16;

std::uint64_t stripe_hash(const TotalsDocument& doc) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over collection and bucket
  for (const char c : doc.collection) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  h = (h ^ static_cast<std::uint64_t>(doc.bucket_ms)) * 1099511628211ULL;
  return h ^ (h >> 29);
}

BsonPtr write_options(const TotalsTarget& target) {
  BsonPtr opts = make_bson();
  bson_t concern;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "writeConcern", &concern);
  if (target.write_concern.is_majority()) {
    BSON_APPEND_UTF8(&concern, "w", "majority");
  } else {
    BSON_APPEND_INT32(&concern, "w", target.write_concern.member_count());
  }
  BSON_APPEND_BOOL(&concern, "j", target.journal);
  bson_append_document_end(opts.get(), &concern);
  return opts;
}

// What the stored document says, when there is one.
struct Stored {
  std::int64_t revision = 0;
  std::optional<std::uint64_t> applied;  // this stream's stamp
  TotalsEntries entries;
};

enum class Step { done, raced };

class TotalsWriter {
 public:
  TotalsWriter(const TotalsTarget& target, std::span<const TotalsDocument> documents, const WriteStamp* stamp)
      : target_(target), documents_(documents), stamp_(stamp), options_(write_options(target)) {
    result_.outcomes.resize(documents.size());
  }

  ChunkResult& result() { return result_; }

  bool done() const {
    return std::none_of(result_.outcomes.begin(), result_.outcomes.end(), [](const DocumentOutcome& o) {
      return o.state == DocumentState::pending_insert || o.state == DocumentState::pending_update;
    });
  }

  void fail_pending(errc code, const std::string& message) {
    for (DocumentOutcome& o : result_.outcomes) {
      if (o.state == DocumentState::pending_insert || o.state == DocumentState::pending_update) {
        fail(o, code, message, false);
      }
    }
  }

  // Writes every pending document on this connection; stops at the first transient failure.
  std::optional<DriverError> attempt(Client& client) {
    for (std::size_t i = 0; i < documents_.size(); ++i) {
      DocumentOutcome& outcome = result_.outcomes[i];
      if (outcome.state != DocumentState::pending_insert && outcome.state != DocumentState::pending_update) continue;
      const TotalsDocument& doc = documents_[i];
      std::optional<KeyLockTable::Guard> locked;
      const std::uint64_t hash = stripe_hash(doc);
      if (target_.update_locks != nullptr) locked.emplace(*target_.update_locks, std::span(&hash, 1));
      CollectionPtr collection(
          mongoc_client_get_collection(client.get(), target_.database.c_str(), doc.collection.c_str()));
      int races = 0;
      for (;;) {
        std::optional<DriverError> error;
        const Step step = write_one(collection.get(), doc, outcome, error);
        if (error) {
          if (!error->transient) {
            fail(outcome, error->code, error->message, false);
            break;
          }
          return error;
        }
        if (step == Step::done) break;
        if (++races > kMaxRaces) {
          fail(outcome, errc::write_failed, "repeated races with other writers on " + doc.collection, false);
          break;
        }
      }
    }
    return std::nullopt;
  }

 private:
  static void fail(DocumentOutcome& outcome, errc code, std::string message, bool unknown) {
    outcome.state = DocumentState::failed;
    outcome.code = code;
    outcome.message = std::move(message);
    outcome.outcome_unknown = unknown;
  }

  // A transient error after the command may have reached the server: safe to repeat under a
  // stamp (the read that follows finds it or not); otherwise the outcome is unknown.
  std::optional<DriverError> after_send(DriverError error, DocumentOutcome& outcome) {
    if (error.transient && !error.not_sent && stamp_ == nullptr) {
      fail(outcome, error.code, error.message + "; the write may or may not have been applied", true);
      return std::nullopt;
    }
    return error;
  }

  std::optional<Stored> read(mongoc_collection_t* collection, const std::string& id, std::optional<DriverError>& error,
                             bool& damaged) {
    // Exactly {_id: "<bucket>"}: the one filter FerretDB v1 hands to SQLite.
    BsonPtr filter = make_bson();
    BSON_APPEND_UTF8(filter.get(), "_id", id.c_str());
    BsonPtr opts(BCON_NEW("limit", BCON_INT64(1)));
    CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter.get(), opts.get(), nullptr));
    const bson_t* doc = nullptr;
    std::optional<Stored> stored;
    if (mongoc_cursor_next(cursor.get(), &doc)) {
      stored.emplace();
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc, "r") && BSON_ITER_HOLDS_NUMBER(&it)) stored->revision = bson_iter_as_int64(&it);
      if (stamp_ != nullptr) {
        const std::string field = "_applied." + stamp_->stream;
        bson_iter_t stamp;
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, field.c_str(), &stamp) &&
            BSON_ITER_HOLDS_NUMBER(&stamp)) {
          stored->applied = static_cast<std::uint64_t>(bson_iter_as_int64(&stamp));
        }
      }
      std::optional<TotalsEntries> entries;
      if (bson_iter_init_find(&it, doc, "d") && BSON_ITER_HOLDS_BINARY(&it)) {
        bson_subtype_t subtype;
        std::uint32_t length = 0;
        const std::uint8_t* data = nullptr;
        bson_iter_binary(&it, &subtype, &length, &data);
        entries = unpack_totals(std::string_view(reinterpret_cast<const char*>(data), length));
      }
      if (entries) {
        stored->entries = std::move(*entries);
      } else {
        damaged = true;
      }
    }
    bson_error_t failure;
    if (mongoc_cursor_error(cursor.get(), &failure)) {
      error = translate(failure, "read totals");
      error->not_sent = true;  // a read: nothing was written
    }
    return stored;
  }

  Step write_one(mongoc_collection_t* collection, const TotalsDocument& doc, DocumentOutcome& outcome,
                 std::optional<DriverError>& error) {
    const std::string id = totals_id(doc.bucket_ms);
    bool damaged = false;
    ++result_.commands;
    const std::optional<Stored> stored = read(collection, id, error, damaged);
    if (error) return Step::done;
    if (damaged) {
      fail(outcome, errc::server_error, doc.collection + " " + id + ": the stored totals are not readable", false);
      return Step::done;
    }
    if (stored && stamp_ != nullptr && stored->applied && *stored->applied >= stamp_->sequence) {
      outcome.state = DocumentState::written;
      return Step::done;
    }
    const TotalsEntries merged = stored ? merge_totals(stored->entries, doc.entries) : doc.entries;
    const std::string packed = pack_totals(merged);
    const std::string stamp_field = stamp_ != nullptr ? "_applied." + stamp_->stream : std::string();
    Reply reply;
    bson_error_t failure;
    ++result_.commands;
    if (!stored) {
      BsonPtr insert = make_bson();
      BSON_APPEND_UTF8(insert.get(), "_id", id.c_str());
      BSON_APPEND_DATE_TIME(insert.get(), "t", doc.bucket_ms);
      BSON_APPEND_INT64(insert.get(), "r", 1);
      BSON_APPEND_INT64(insert.get(), "n", static_cast<std::int64_t>(merged.size()));
      bson_append_binary(insert.get(), "d", 1, BSON_SUBTYPE_BINARY,
                         reinterpret_cast<const std::uint8_t*>(packed.data()),
                         static_cast<std::uint32_t>(packed.size()));
      if (stamp_ != nullptr) {
        bson_t applied;
        BSON_APPEND_DOCUMENT_BEGIN(insert.get(), "_applied", &applied);
        bson_append_int64(&applied, stamp_->stream.c_str(), static_cast<int>(stamp_->stream.size()),
                          static_cast<std::int64_t>(stamp_->sequence));
        bson_append_document_end(insert.get(), &applied);
      }
      if (mongoc_collection_insert_one(collection, insert.get(), options_.get(), reply.reset(), &failure)) {
        ++result_.upserted;
        outcome.state = DocumentState::written;
        return Step::done;
      }
      if (failure.code == kDuplicateKey) return Step::raced;  // created since our read
      error = after_send(translate(failure, "insert totals"), outcome);
      return Step::done;
    }
    BsonPtr filter = make_bson();
    BSON_APPEND_UTF8(filter.get(), "_id", id.c_str());
    if (target_.update_locks == nullptr) BSON_APPEND_INT64(filter.get(), "r", stored->revision);
    BsonPtr update = make_bson();
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    BSON_APPEND_INT64(&set, "r", stored->revision + 1);
    BSON_APPEND_INT64(&set, "n", static_cast<std::int64_t>(merged.size()));
    bson_append_binary(&set, "d", 1, BSON_SUBTYPE_BINARY, reinterpret_cast<const std::uint8_t*>(packed.data()),
                       static_cast<std::uint32_t>(packed.size()));
    if (stamp_ != nullptr) {
      bson_append_int64(&set, stamp_field.c_str(), static_cast<int>(stamp_field.size()),
                        static_cast<std::int64_t>(stamp_->sequence));
    }
    bson_append_document_end(update.get(), &set);
    if (!mongoc_collection_update_one(collection, filter.get(), update.get(), options_.get(), reply.reset(),
                                      &failure)) {
      error = after_send(translate(failure, "update totals"), outcome);
      return Step::done;
    }
    bson_iter_t it;
    const std::int64_t matched = bson_iter_init_find(&it, reply.get(), "matchedCount") && BSON_ITER_HOLDS_NUMBER(&it)
                                     ? bson_iter_as_int64(&it)
                                     : 0;
    if (matched == 0) return Step::raced;  // another writer's update (or a delete) came first
    ++result_.matched;
    ++result_.modified;
    outcome.state = DocumentState::written;
    return Step::done;
  }

  const TotalsTarget& target_;
  std::span<const TotalsDocument> documents_;
  const WriteStamp* stamp_;
  BsonPtr options_;
  ChunkResult result_;
};

}  // namespace

KeyLockTable& shared_totals_locks() {
  static KeyLockTable table;
  return table;
}

ChunkResult write_totals(ConnectionPool& pool, const TotalsTarget& target, std::span<const TotalsDocument> documents,
                         Clock::time_point deadline, const WriteStamp* stamp) {
  TotalsWriter writer(target, documents, stamp);
  run_write_attempts(pool, writer, deadline);
  return std::move(writer.result());
}

}  // namespace flowmetrics::mongo
