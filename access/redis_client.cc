#include "access/redis_client.h"
