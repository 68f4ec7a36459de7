// The user a create request makes: one rule for the API's creates and ozzie-admin's import.
#pragma once

#include "service/ulid.hpp"

#include <ozzie/user.hpp>

#include <chrono>
#include <string>

namespace ozzie {

// The request's fields under the client, with the id `id` makes, language "en" unless the
// request says otherwise, stage intake_pending, and created_at the id's time in whole seconds.
inline user created_user(std::string client_id, new_user request, const ulid& id) {
    return user{
        .id = std::string(user_id_prefix) + id.text,
        .client_id = std::move(client_id),
        .external_user_id = std::move(request.external_user_id),
        .name = std::move(request.name),
        .email = std::move(request.email),
        .phone = std::move(request.phone),
        .language = request.language ? std::move(*request.language) : std::string("en"),
        .stage = onboarding_stage::intake_pending,
        .created_at = std::chrono::floor<std::chrono::seconds>(id.time),
    };
}

}  // namespace ozzie
