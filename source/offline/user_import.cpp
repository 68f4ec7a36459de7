#include "offline/user_import.hpp"

#include "http/user_json.hpp"
#include "service/created_user.hpp"
#include "service/messages.hpp"
#include "service/ulid.hpp"
#include "service/validation.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

namespace ozzie {
namespace {

using clock_type = std::chrono::steady_clock;

// Users a write: a few MiB, so a write costs little per user and a batch's checks stay in cache.
constexpr std::size_t batch_users = 10000;
// A longer line is reported without being read into memory.
constexpr std::size_t max_line_bytes = std::size_t{1} << 20;

// The lines of a file, read in large blocks.
class input_lines {
public:
    explicit input_lines(std::FILE* in) : in_(in), buffer_(max_line_bytes) {}

    struct line {
        std::string_view text;  // without its '\n'; valid until the next call
        bool too_long = false;  // longer than max_line_bytes: text is only its end
    };
    // The next line; nullopt at the end of the input. Throws if the input cannot be read.
    std::optional<line> next() {
        bool too_long = false;
        for (;;) {
            const char* begin = buffer_.data() + start_;
            if (const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', end_ - start_))) {
                start_ = static_cast<std::size_t>(newline - buffer_.data()) + 1;
                return line{{begin, static_cast<std::size_t>(newline - begin)}, too_long};
            }
            if (eof_) {  // a last line without a '\n'
                if (start_ == end_ && !too_long) return std::nullopt;
                const std::string_view rest(begin, end_ - start_);
                start_ = end_;
                return line{rest, too_long};
            }
            if (start_ == 0 && end_ == buffer_.size()) {  // a line that does not fit: drop what is read
                too_long = true;
                end_ = 0;
            }
            fill();
        }
    }

private:
    // Moves the unread bytes to the front and reads more after them.
    void fill() {
        std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
        end_ -= start_;
        start_ = 0;
        const auto read = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, in_);
        if (read == 0 && std::ferror(in_))
            throw std::runtime_error(std::string("cannot read the input: ") + std::strerror(errno));
        if (read == 0) eof_ = true;
        end_ += read;
    }

    std::FILE* in_;
    std::vector<char> buffer_;
    std::size_t start_ = 0, end_ = 0;  // the unread bytes in buffer_
    bool eof_ = false;
};

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// `message` on one line of the report: its control characters (a received value's newline,
// say) written as JSON escapes.
std::string one_line(std::string_view message) {
    std::string out;
    out.reserve(message.size());
    for (const char c : message) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte != 0x7F) {
            out += c;
            continue;
        }
        constexpr std::string_view hex = "0123456789abcdef";
        out += "\\u00";
        out += hex[byte >> 4];
        out += hex[byte & 0xF];
    }
    return out;
}

error id_taken(std::string_view id) {
    return {errc::conflict, "A user with id '" + std::string(id) + "' is already in the store."};
}

// Whether a lookup found its user; throws if the store could not tell.
bool found(const result<user>& lookup) {
    if (lookup) return true;
    if (lookup.error().code == errc::not_found) return false;
    throw std::runtime_error("reading the store failed (the log above says why)");
}

// A line read, kept until its batch is written so that the report follows the lines' order.
struct pending_line {
    std::uint64_t line;
    user u;                        // the user it makes, unless
    std::optional<error> failure;  // why it makes none
    bool exported;                 // the user keeps its id, which must then be free
};
using batch = std::vector<pending_line>;

// Turns lines into users, as the API's create would (or as export wrote them), or into the
// errors the API would answer, a batch at a time. The reading thread's half of the import.
class line_parser {
public:
    explicit line_parser(std::string_view client_id) : client_id_(client_id) { batch_.reserve(batch_users); }

    void take(std::uint64_t number, std::string_view line) {
        auto parsed = parse_import_line(line);
        if (!parsed) {
            batch_.push_back({number, {}, parsed.error(), false});
        } else if (auto* request = std::get_if<new_user>(&*parsed)) {
            if (auto valid = validate(*request); !valid)
                batch_.push_back({number, {}, valid.error(), false});
            else
                batch_.push_back({number, created(std::move(*request)), {}, false});
        } else {
            auto& exported = std::get<user>(*parsed);
            const new_user fields{exported.external_user_id, exported.name, exported.email, exported.phone,
                                  exported.language};
            exported.client_id = client_id_;
            if (auto valid = validate(fields); !valid)
                batch_.push_back({number, {}, valid.error(), true});
            else
                batch_.push_back({number, std::move(exported), {}, true});
        }
    }

    void too_long(std::uint64_t number) {
        batch_.push_back({number, {},
                          error{errc::validation_error, "The line is longer than " + std::to_string(max_line_bytes) +
                                                            " bytes; it was not read."},
                          false});
    }

    bool full() const noexcept { return batch_.size() >= batch_users; }

    // The lines taken since the last call.
    batch take_batch() {
        batch taken;
        taken.reserve(batch_users);
        taken.swap(batch_);
        return taken;
    }

private:
    // The user a create body makes, as the API's create makes it.
    user created(new_user request) {
        const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
        return created_user(client_id_, std::move(request), id_generator_.next(now));
    }

    std::string client_id_;
    ulid_generator id_generator_;
    batch batch_;
};

// Checks each batch's users for conflicts, loads the others into the store and reports the
// lines that fail, batch after batch in the order of the lines. The writing thread's half of
// the import.
class batch_writer {
public:
    batch_writer(rocksdb_store& store, std::string_view client_id, std::FILE* errors, bool progress)
        : store_(store), client_id_(client_id), errors_(errors), progress_(progress) {
        users_.reserve(batch_users);
    }

    // The earlier batches are in the store by now, so the store and this batch are all there is
    // to check against.
    void write(batch& lines) {
        for (auto& [line, u, failure, exported] : lines) {
            if (failure) {
                report(line, *failure);
                continue;
            }
            if (exported && (batch_ids_.contains(u.id) || found(store_.get({}, *ulid_of_user_id(u.id))))) {
                report(line, id_taken(u.id));
                continue;
            }
            if (batch_external_ids_.contains(u.external_user_id) ||
                found(store_.find_external(client_id_, u.external_user_id))) {
                report(line, messages::conflict(u.external_user_id));
                continue;
            }
            if (exported) batch_ids_.insert(u.id);
            batch_external_ids_.insert(u.external_user_id);
            users_.push_back(std::move(u));
        }
        if (!users_.empty() && !store_.load(users_))
            throw std::runtime_error("writing to the store failed (the log above says why)");
        summary_.imported += users_.size();
        users_.clear();
        batch_ids_.clear();
        batch_external_ids_.clear();
        show_progress();
    }

    // Makes everything written durable.
    import_summary finish() {
        if (!store_.finish_load()) throw std::runtime_error("flushing the store failed (the log above says why)");
        clear_progress();
        return summary_;
    }

private:
    void report(std::uint64_t line, const error& e) {
        ++summary_.failed;
        clear_progress();
        std::fprintf(errors_, "line %llu: %s: %s\n", static_cast<unsigned long long>(line),
                     std::string(code_name(e.code)).c_str(), one_line(e.message).c_str());
    }

    void show_progress() {
        if (!progress_) return;
        const auto now = clock_type::now();
        if (now - last_progress_ < std::chrono::seconds(1)) return;
        last_progress_ = now;
        const double seconds = std::chrono::duration<double>(now - began_).count();
        progress_width_ = std::fprintf(errors_, "\rimported %llu, failed %llu, %.0f users/s",
                                       static_cast<unsigned long long>(summary_.imported),
                                       static_cast<unsigned long long>(summary_.failed),
                                       static_cast<double>(summary_.imported) / seconds);
        std::fflush(errors_);
    }

    // Blanks the progress line, so that what follows starts on a clean line.
    void clear_progress() {
        if (progress_width_ <= 0) return;
        std::fprintf(errors_, "\r%*s\r", progress_width_, "");
        progress_width_ = 0;
    }

    rocksdb_store& store_;
    std::string client_id_;
    std::FILE* errors_;
    bool progress_;
    std::vector<user> users_;  // the batch's users that passed the checks
    // Their ids and external ids: the batch not yet in the store.
    std::unordered_set<std::string> batch_ids_, batch_external_ids_;
    import_summary summary_;
    const clock_type::time_point began_ = clock_type::now();
    clock_type::time_point last_progress_ = began_;
    int progress_width_ = 0;  // of the progress line on the terminal; 0 if none is shown
};

// The batches on their way from the reading thread to the writing one: at most two wait, so
// reading runs little ahead of writing.
class batch_queue {
public:
    // Waits for room; false if the writer has stopped (then nothing more is taken).
    bool push(batch lines) {
        std::unique_lock lock(mutex_);
        room_.wait(lock, [this] { return batches_.size() < 2 || stopped_; });
        if (stopped_) return false;
        batches_.push_back(std::move(lines));
        ready_.notify_one();
        return true;
    }
    // The next batch; nullopt once the reader has closed the queue and every batch is taken, or
    // the queue is stopped.
    std::optional<batch> pop() {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return !batches_.empty() || closed_ || stopped_; });
        if (stopped_ || batches_.empty()) return std::nullopt;
        batch next = std::move(batches_.front());
        batches_.pop_front();
        room_.notify_one();
        return next;
    }
    // The reader's end: no more batches.
    void close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        ready_.notify_one();
    }
    // Either end, on a failure: no batch is taken any more.
    void stop() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        ready_.notify_one();
        room_.notify_one();
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_, room_;
    std::deque<batch> batches_;
    bool closed_ = false, stopped_ = false;
};

}  // namespace

import_summary import_users(rocksdb_store& store, std::string_view client_id, std::FILE* input, std::FILE* errors,
                            bool progress) {
    // Two threads, for two cores: this one reads and parses, the other checks and writes.
    batch_writer writer(store, client_id, errors, progress);
    batch_queue queue;
    std::exception_ptr write_failure;
    std::thread writing([&] {
        try {
            while (auto lines = queue.pop()) writer.write(*lines);
        } catch (...) {
            write_failure = std::current_exception();
            queue.stop();
        }
    });
    try {
        input_lines lines(input);
        line_parser parser(client_id);
        std::uint64_t number = 0;
        bool writing_on = true;
        while (writing_on) {
            const auto line = lines.next();
            if (!line) break;
            ++number;
            if (line->too_long) parser.too_long(number);
            else if (!is_blank(line->text)) parser.take(number, line->text);
            if (parser.full()) writing_on = queue.push(parser.take_batch());
        }
        if (writing_on) queue.push(parser.take_batch());
        queue.close();
    } catch (...) {
        queue.stop();  // what was read is not written: the store keeps what is in it
        writing.join();
        throw;
    }
    writing.join();
    if (write_failure) std::rethrow_exception(write_failure);
    return writer.finish();
}

}  // namespace ozzie
