// Short names for the Beast and Asio types the HTTP layer uses.
#pragma once

#include <ozzie/awaitable.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace ozzie {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

inline constexpr net::use_awaitable_t<executor> use_awaitable;
using tcp_socket = net::basic_stream_socket<net::ip::tcp, executor>;
using tcp_acceptor = net::basic_socket_acceptor<net::ip::tcp, executor>;
using steady_timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                               net::wait_traits<std::chrono::steady_clock>, executor>;
}  // namespace ozzie
