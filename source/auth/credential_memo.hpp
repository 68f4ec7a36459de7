// A connection's memory of the credentials it last authenticated with.
#pragma once

#include "auth/client_registry.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ozzie {

// Clients send the same Authorization header on every request of a keep-alive connection. The
// first costs a SHA-256 of the secret; the memo makes each later one a constant-time compare of
// the header with the one that succeeded. A reloaded clients file is a new registry, which the
// memo does not know: the next request authenticates in full again, so a removed client is
// refused at once. Only successes are remembered. One per connection; not thread-safe.
class credential_memo {
public:
    // clients->authenticate(authorization), remembered.
    std::optional<std::string_view> authenticate(const std::shared_ptr<const client_registry>& clients,
                                                 std::string_view authorization);

private:
    std::shared_ptr<const client_registry> clients_;  // keeps client_id_ alive
    std::string authorization_;
    std::string_view client_id_;
};

}  // namespace ozzie
