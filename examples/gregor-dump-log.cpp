// gregor-dump-log: prints Kafka segment files (.log, .index, .timeindex) batch by batch, like
// Kafka's kafka-dump-log.
//
//   gregor-dump-log [--verify] FILE.log...
//
// One line per batch: base and last offset, record count, position, size, producer id/epoch/base
// sequence, transactional/control flags and whether the CRC is valid. With --verify it exits 1 at
// the first invalid batch and names its position on stderr.
#include <gregor/storage/dump_log.hpp>

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::ios::sync_with_stdio(false);
    return gregor::storage::dump_log_main(args, std::cout, std::cerr);
}
