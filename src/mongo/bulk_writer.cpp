#include "mongo/bulk_writer.hpp"

#include <algorithm>
#include <unordered_map>

#include "mongo/documents.hpp"
#include "mongo/write_attempts.hpp"

namespace flowmetrics::mongo {
namespace {

using Clock = ConnectionPool::Clock;

struct WriteErrorItem {
  std::uint32_t code = 0;
  std::string message;
};

// What one bulk command's reply says, read the same way for MongoDB's and FerretDB's shapes.
struct BulkReply {
  std::int64_t inserted = 0;
  std::int64_t matched = 0;
  std::int64_t modified = 0;
  std::int64_t upserted = 0;
  std::unordered_map<std::size_t, WriteErrorItem> write_errors;  // by operation index
  bool write_concern_error = false;
  std::string write_concern_message;
};

std::int64_t read_count(const bson_t* reply, const char* field) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply, field) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
  return 0;
}

BulkReply parse_reply(const bson_t* reply) {
  BulkReply parsed;
  parsed.inserted = read_count(reply, "nInserted");
  parsed.matched = read_count(reply, "nMatched");
  parsed.modified = read_count(reply, "nModified");
  parsed.upserted = read_count(reply, "nUpserted");
  bson_iter_t it, errors;
  if (bson_iter_init_find(&it, reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &errors)) {
    while (bson_iter_next(&errors)) {
      bson_iter_t field;
      if (!BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &field)) continue;
      std::size_t index = 0;
      WriteErrorItem item;
      while (bson_iter_next(&field)) {
        const std::string_view key = bson_iter_key(&field);
        if (key == "index") index = static_cast<std::size_t>(bson_iter_as_int64(&field));
        if (key == "code") item.code = static_cast<std::uint32_t>(bson_iter_as_int64(&field));
        if (key == "errmsg" && BSON_ITER_HOLDS_UTF8(&field)) item.message = bson_iter_utf8(&field, nullptr);
      }
      parsed.write_errors.emplace(index, std::move(item));
    }
  }
  if (bson_iter_init_find(&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_t wce;
    if (bson_iter_recurse(&it, &wce) && bson_iter_next(&wce)) {
      parsed.write_concern_error = true;
      bson_iter_t field;
      if (BSON_ITER_HOLDS_DOCUMENT(&wce) && bson_iter_recurse(&wce, &field) && bson_iter_find(&field, "errmsg") &&
          BSON_ITER_HOLDS_UTF8(&field)) {
        parsed.write_concern_message = bson_iter_utf8(&field, nullptr);
      }
    }
  }
  return parsed;
}

// Generic over the document type (KeyedAggregate): documents.hpp builds each
// type's insert, filter and update, and names its lock stripe.
template <class Document>
class ChunkWriter {
 public:
  ChunkWriter(const WriteTarget& target, std::span<const Document> documents, const WriteStamp* stamp)
      : target_(target), documents_(documents), stamp_(stamp) {
    result_.outcomes.resize(documents.size());
  }

  // Sends what is pending, one phase at a time. Returns the transient error that stopped
  // this attempt, or std::nullopt when it ran to the end (some documents may still be
  // pending after a key race; the caller simply tries again).
  std::optional<DriverError> attempt(Client& client) {
    // Only the first attempt may trust WriteStamp::unapplied: a failed one may have applied part.
    const bool first_attempt = attempts_++ == 0;
    for (const DocumentState phase : {DocumentState::pending_insert, DocumentState::pending_update}) {
      std::vector<std::size_t> operations;
      for (std::size_t i = 0; i < documents_.size(); ++i) {
        if (result_.outcomes[i].state == phase) operations.push_back(i);
      }
      if (phase == DocumentState::pending_update && stamp_ != nullptr && !target_.stamp_filter_on_server &&
          !(stamp_->unapplied && first_attempt) && !operations.empty()) {
        CollectionPtr collection(
            mongoc_client_get_collection(client.get(), target_.database.c_str(), target_.collection.c_str()));
        if (auto error = settle_already_stamped(collection.get(), operations)) return error;
      }
      const std::size_t limit = phase == DocumentState::pending_update
                                    ? std::max<std::size_t>(target_.max_update_operations, 1)
                                    : operations.size();
      for (std::size_t begin = 0; begin < operations.size(); begin += limit) {
        const std::size_t end = std::min(operations.size(), begin + limit);
        const std::vector<std::size_t> slice(operations.begin() + static_cast<std::ptrdiff_t>(begin),
                                             operations.begin() + static_cast<std::ptrdiff_t>(end));
        if (auto error = run_phase(client, phase, slice)) return error;
      }
    }
    return std::nullopt;
  }

  bool done() const {
    return std::none_of(result_.outcomes.begin(), result_.outcomes.end(), [](const DocumentOutcome& o) {
      return o.state == DocumentState::pending_insert || o.state == DocumentState::pending_update;
    });
  }

  // Gives up on everything still pending.
  void fail_pending(errc code, const std::string& message) {
    for (auto& outcome : result_.outcomes) {
      if (outcome.state == DocumentState::pending_insert || outcome.state == DocumentState::pending_update) {
        fail(outcome, code, message, false);
      }
    }
  }

  ChunkResult& result() { return result_; }

 private:
  static void fail(DocumentOutcome& outcome, errc code, std::string message, bool unknown) {
    outcome.state = DocumentState::failed;
    outcome.code = code;
    outcome.message = std::move(message);
    outcome.outcome_unknown = unknown;
  }

  // {ordered: false, writeConcern: {w, j}}
  BsonPtr bulk_options() const {
    BsonPtr opts(BCON_NEW("ordered", BCON_BOOL(false)));
    bson_t concern;
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "writeConcern", &concern);
    if (target_.write_concern.is_majority()) {
      BSON_APPEND_UTF8(&concern, "w", "majority");
    } else {
      BSON_APPEND_INT32(&concern, "w", target_.write_concern.member_count());
    }
    BSON_APPEND_BOOL(&concern, "j", target_.journal);
    bson_append_document_end(opts.get(), &concern);
    return opts;
  }

  // Reads the stamp of this write's stream on the documents `ops` names, with one
  // {_id: {$in: [...]}} query per thousand, and settles as written the ones that already carry
  // it; the rest stay in `ops`, to be updated with a plain {_id} filter. Safe because a
  // stream is written by one writer, one flush at a time: nothing else can set this stream's
  // stamp between the read and the update. (FerretDB scans the collection for any filter but
  // a plain {_id}: one scan per thousand documents, instead of one per update.)
  std::optional<DriverError> settle_already_stamped(mongoc_collection_t* collection, std::vector<std::size_t>& ops) {
    constexpr std::size_t kIdsPerQuery = 1'000;
    const std::string field = "_applied." + stamp_->stream;
    BsonPtr opts = make_bson();
    bson_t projection;
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "projection", &projection);
    bson_append_int32(&projection, field.c_str(), static_cast<int>(field.size()), 1);
    bson_append_document_end(opts.get(), &projection);
    std::unordered_map<std::string_view, std::size_t> by_id;
    for (std::size_t i : ops) by_id.emplace(documents_[i].id, i);
    for (std::size_t begin = 0; begin < ops.size(); begin += kIdsPerQuery) {
      BsonPtr filter = make_bson();
      bson_t id_condition, ids;
      BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id_condition);
      BSON_APPEND_ARRAY_BEGIN(&id_condition, "$in", &ids);
      const std::size_t end = std::min(ops.size(), begin + kIdsPerQuery);
      for (std::size_t k = begin; k < end; ++k) {
        const std::string key = std::to_string(k - begin);
        const std::string& id = documents_[ops[k]].id;
        bson_append_utf8(&ids, key.c_str(), static_cast<int>(key.size()), id.c_str(), static_cast<int>(id.size()));
      }
      bson_append_array_end(&id_condition, &ids);
      bson_append_document_end(filter.get(), &id_condition);
      CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter.get(), opts.get(), nullptr));
      const bson_t* found = nullptr;
      while (mongoc_cursor_next(cursor.get(), &found)) {
        bson_iter_t it, stamp;
        if (!bson_iter_init_find(&it, found, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) continue;
        std::uint32_t length = 0;
        const char* id = bson_iter_utf8(&it, &length);
        const auto match = by_id.find(std::string_view(id, length));
        if (match == by_id.end()) continue;
        if (bson_iter_init(&it, found) && bson_iter_find_descendant(&it, field.c_str(), &stamp) &&
            BSON_ITER_HOLDS_NUMBER(&stamp) &&
            static_cast<std::uint64_t>(bson_iter_as_int64(&stamp)) >= stamp_->sequence) {
          result_.outcomes[match->second].state = DocumentState::written;
        }
      }
      bson_error_t error;
      if (mongoc_cursor_error(cursor.get(), &error)) {
        DriverError failure = translate(error, "read stamps");
        failure.not_sent = true;  // nothing was written: the whole phase may be sent again
        return failure;
      }
    }
    std::erase_if(ops, [&](std::size_t i) { return result_.outcomes[i].state == DocumentState::written; });
    return std::nullopt;
  }

  std::optional<DriverError> run_phase(Client& client, DocumentState phase, const std::vector<std::size_t>& ops) {
    const bool inserting = phase == DocumentState::pending_insert;
    CollectionPtr collection(
        mongoc_client_get_collection(client.get(), target_.database.c_str(), target_.collection.c_str()));
    const bool stamp_in_filter = stamp_ != nullptr && target_.stamp_filter_on_server;
    BsonPtr bulk_opts = bulk_options();
    BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(collection.get(), bulk_opts.get()));
    // A stamped update must not upsert: when its filter does not match, the document already
    // has the stamp, and an upsert would only collide with it on _id.
    BsonPtr upsert_opts(BCON_NEW("upsert", BCON_BOOL(stamp_ == nullptr)));
    std::vector<std::size_t> sent;
    sent.reserve(ops.size());
    for (std::size_t i : ops) {
      const Document& doc = documents_[i];
      bson_error_t error;
      bool appended = false;
      if (inserting) {
        appended = mongoc_bulk_operation_insert_with_opts(bulk.get(), build_document(doc, target_.policy, stamp_).get(),
                                                          nullptr, &error);
      } else if (target_.policy == MergePolicy::replace && stamp_ == nullptr) {
        appended = mongoc_bulk_operation_replace_one_with_opts(
            bulk.get(), build_id_filter(doc).get(), build_update(doc, target_.policy).get(), upsert_opts.get(), &error);
      } else {
        appended = mongoc_bulk_operation_update_one_with_opts(
            bulk.get(), build_id_filter(doc, stamp_in_filter ? stamp_ : nullptr).get(),
            build_update(doc, target_.policy, stamp_).get(), upsert_opts.get(), &error);
      }
      if (appended) {
        sent.push_back(i);
      } else {
        fail(result_.outcomes[i], errc::invalid_argument, translate(error, "build bulk write").message, false);
      }
    }
    if (sent.empty()) return std::nullopt;

    std::optional<KeyLockTable::Guard> locked;
    if (!inserting && target_.update_locks != nullptr) {
      std::vector<std::uint64_t> hashes;
      hashes.reserve(sent.size());
      for (std::size_t i : sent) hashes.push_back(lock_hash(documents_[i]));
      locked.emplace(*target_.update_locks, hashes);
    }
    Reply reply;
    bson_error_t error;
    ++result_.commands;
    const bool ok = mongoc_bulk_operation_execute(bulk.get(), reply.reset(), &error) != 0;
    BulkReply parsed = parse_reply(reply.get());
    if (!ok && parsed.write_errors.empty() && !parsed.write_concern_error) {
      return command_failed(translate(error, inserting ? "bulk insert" : "bulk upsert"), sent);
    }
    apply_reply(parsed, sent, inserting);
    return std::nullopt;
  }

  // The whole command failed: nothing, or an unknown part, was applied. Documents that may be
  // sent again keep their phase: a re-sent insert of a document that was in fact applied
  // fails as a duplicate and moves on to the (idempotent, under replace) update.
  std::optional<DriverError> command_failed(DriverError error, const std::vector<std::size_t>& sent) {
    if (!error.transient) {
      for (std::size_t i : sent) fail(result_.outcomes[i], error.code, error.message, false);
      return std::nullopt;
    }
    const bool resend_is_safe = error.not_sent || target_.policy == MergePolicy::replace || stamp_ != nullptr;
    if (!resend_is_safe) {
      for (std::size_t i : sent) {
        fail(result_.outcomes[i], error.code, error.message + "; the write may or may not have been applied", true);
      }
    }
    return error;
  }

  void apply_reply(const BulkReply& reply, const std::vector<std::size_t>& sent, bool inserting) {
    const std::int64_t acknowledged = inserting ? reply.inserted : reply.matched + reply.upserted;
    const auto errors = static_cast<std::int64_t>(reply.write_errors.size());
    // MongoDB accounts for every operation of an unordered bulk: applied or a write error.
    // FerretDB v1 stops an update batch at its first failure and reports one error at
    // index 0 with no counts: a reply that accounts for fewer operations than were sent
    // means the server stopped early, and then no index can be trusted. One that accounts
    // for more is trusted per index: mongo-java-server counts every document it was sent
    // as inserted, duplicates included.
    // A stamped update that finds its stamp already applied matches nothing and is counted
    // nowhere, so for those only an error-free reply is known to be complete.
    const bool precise = acknowledged + errors >= static_cast<std::int64_t>(sent.size()) ||
                         (stamp_ != nullptr && !inserting && errors == 0);
    if (precise) {
      if (inserting) {
        result_.upserted += sent.size() - reply.write_errors.size();
      } else {
        result_.matched += static_cast<std::size_t>(reply.matched);
        result_.modified += static_cast<std::size_t>(reply.modified);
        result_.upserted += static_cast<std::size_t>(reply.upserted);
      }
    }
    for (std::size_t k = 0; k < sent.size(); ++k) {
      DocumentOutcome& outcome = result_.outcomes[sent[k]];
      if (!precise) {
        if (target_.policy == MergePolicy::replace || stamp_ != nullptr) {
          outcome.state = DocumentState::pending_update;  // re-sending is idempotent
        } else {
          fail(outcome, errc::write_failed,
               "the server aborted the bulk write without saying which operations it applied", true);
        }
        continue;
      }
      auto error = reply.write_errors.find(k);
      if (error == reply.write_errors.end()) {
        if (reply.write_concern_error) {
          fail(outcome, errc::write_failed, "write concern not satisfied: " + reply.write_concern_message, true);
        } else {
          outcome.state = DocumentState::written;
        }
        continue;
      }
      const WriteErrorItem& item = error->second;
      if (item.code == kDuplicateKey) {
        // Insert: the key exists, so update it. Update: another writer created the key
        // between our lookup and our insert; the statement was not applied, so retry it.
        outcome.state = DocumentState::pending_update;
      } else if (is_transient_server_error(item.code, item.message)) {
        // Not applied; stays in its phase for the next attempt.
      } else {
        fail(outcome, errc::server_error, item.message + " (server code " + std::to_string(item.code) + ")", false);
      }
    }
  }

  const WriteTarget& target_;
  std::span<const Document> documents_;
  const WriteStamp* stamp_;
  std::size_t attempts_ = 0;
  ChunkResult result_;
};

template <class Document>
ChunkResult write_documents(ConnectionPool& pool, const WriteTarget& target, std::span<const Document> documents,
                            Clock::time_point deadline, const WriteStamp* stamp) {
  ChunkWriter<Document> writer(target, documents, stamp);
  run_write_attempts(pool, writer, deadline);
  return std::move(writer.result());
}

}  // namespace

ChunkResult write_chunk(ConnectionPool& pool, const WriteTarget& target, std::span<const KeyedAggregate> documents,
                        Clock::time_point deadline, const WriteStamp* stamp) {
  return write_documents(pool, target, documents, deadline, stamp);
}

}  // namespace flowmetrics::mongo
