// The admin listener's requests: health, readiness, metrics and online backup.
#pragma once

#include "http/request.hpp"
#include "http/responses.hpp"
#include "ops/metrics.hpp"

#include <ozzie/user_service.hpp>

namespace ozzie {

// GET /healthz: the process is up. GET /readyz: the store is open and takes a durable write.
// GET /metrics: Prometheus text. POST /backup with {"directory": "/path"}: a consistent copy of
// the store there (the directory must not exist yet), taken while the server keeps serving.
// Fills in `res`, reset for `req`; `route_name` is set to the path answered, for the log.
void handle_admin_request(const request& req, user_service& service, const http_metrics& metrics,
                          std::string_view& route_name, response& res);

}  // namespace ozzie
