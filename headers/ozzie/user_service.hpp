// Create and look up users in-process, without HTTP. Thread-safe.
#pragma once

#include <ozzie/config.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <functional>
#include <memory>
#include <string_view>

namespace ozzie {

class user_service {
public:
    using create_handler = std::function<void(result<user>)>;

    // Opens (or creates) the store in options.data_dir and starts the writer thread.
    // Throws std::runtime_error if the store cannot be opened.
    explicit user_service(const store_options& options);
    // Answers every create already submitted, then closes the store.
    ~user_service();
    user_service(const user_service&) = delete;
    user_service& operator=(const user_service&) = delete;

    // Validates `request` and creates the user under `client_id`. `done` is called exactly once:
    // at once on the calling thread with VALIDATION_ERROR, or later on the writer thread with
    // the stored user (durable by the store's sync policy) or CONFLICT. Never blocks on I/O.
    void async_create(std::string_view client_id, new_user request, create_handler done);

    // async_create, waiting for the answer. Blocks the calling thread until it is durable.
    result<user> create(std::string_view client_id, new_user request);

    // The user with Ozzie id `id`. NOT_FOUND if there is none (a malformed id is simply not
    // found); FORBIDDEN if it belongs to another client.
    result<user> find_by_id(std::string_view client_id, std::string_view id) const;

    // The caller's own user with this external_user_id; NOT_FOUND if there is none.
    result<user> find_by_external(std::string_view client_id,
                                  std::string_view external_user_id) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ozzie
