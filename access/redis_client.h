// RedisClient: synchronous commands to one Redis server over hiredis (work in progress).
#ifndef SQUATSTREAM_ACCESS_REDIS_CLIENT_H_
#define SQUATSTREAM_ACCESS_REDIS_CLIENT_H_

namespace squatstream::access {}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_REDIS_CLIENT_H_
