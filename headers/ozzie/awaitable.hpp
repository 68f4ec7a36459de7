// The coroutine type of the library's asynchronous calls: Asio coroutines on an io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

namespace ozzie {

// Every network object runs on one thread's io_context: naming its executor type, instead of
// the type-erased any_io_executor, spares each operation the erased copies and calls.
using executor = boost::asio::io_context::executor_type;
template <class T = void>
using awaitable = boost::asio::awaitable<T, executor>;

}  // namespace ozzie
