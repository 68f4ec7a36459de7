// Short names for the Beast and Asio types the HTTP layer uses.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace ozzie {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// Every network object runs on one thread's io_context: naming its executor type, instead of
// the type-erased any_io_executor, spares each operation the erased copies and calls.
using executor = net::io_context::executor_type;
template <class T = void>
using awaitable = net::awaitable<T, executor>;
inline constexpr net::use_awaitable_t<executor> use_awaitable;
using tcp_socket = net::basic_stream_socket<net::ip::tcp, executor>;
using tcp_acceptor = net::basic_socket_acceptor<net::ip::tcp, executor>;
using steady_timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                               net::wait_traits<std::chrono::steady_clock>, executor>;
}  // namespace ozzie
