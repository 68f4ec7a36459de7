// Asio (with its TLS part) and Beast are built in separate-compilation mode: their implementation is compiled here once.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
