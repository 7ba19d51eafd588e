// The public surface in one include, for users in a hurry. Including single headers instead keeps
// compile times down.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/config.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/crc32c.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/core/varint.hpp>
#include <gregor/net/client.hpp>
#include <gregor/net/server.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/storage/log.hpp>
#include <gregor/version.hpp>
#include <gregor/wire/record_batch.hpp>
