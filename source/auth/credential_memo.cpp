#include "auth/credential_memo.hpp"

#include <openssl/crypto.h>

namespace ozzie {

std::optional<std::string_view> credential_memo::authenticate(const std::shared_ptr<const client_registry>& clients,
                                                              std::string_view authorization) {
    if (clients_ == clients && authorization.size() == authorization_.size() &&
        CRYPTO_memcmp(authorization.data(), authorization_.data(), authorization.size()) == 0)
        return client_id_;
    const auto client = clients->authenticate(authorization);
    if (!client) return std::nullopt;
    clients_ = clients;
    authorization_.assign(authorization);
    client_id_ = *client;
    return client;
}

}  // namespace ozzie
