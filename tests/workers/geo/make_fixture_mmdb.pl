#!/usr/bin/perl
# Writes the geo tests' MaxMind-format fixture databases into OUTDIR (Debian's libmaxmind-db-writer-perl):
#   city.mmdb       GeoLite2-City schema (database_type GeoLite2-City): country{iso_code, names{en}},
#                   city{names{en}}, continent{code, names{en}}, location{latitude, longitude} (double)
#   asn.mmdb        GeoLite2-ASN schema (database_type GeoLite2-ASN): autonomous_system_number (uint32),
#                   autonomous_system_organization (utf8_string)
#   flat-city.mmdb  the flat schema of DB-IP City Lite as ip-location-db publishes it (the installed default,
#                   scripts/install-geo-data.sh), with its types: country_code, state1, state2, city, postcode,
#                   timezone (utf8_string), latitude, longitude (float, not double); state2 and postcode empty as
#                   in the real files (whose timezone is empty too; here it is filled, for the parser's sake)
#   flat-city-ipv4.mmdb, flat-city-ipv6.mmdb
#                   the same records split as the real files are: an IPv4-only tree (an IPv6 lookup in it is
#                   an error) and an IPv6 tree without IPv4 (no aliases: ::ffff:192.0.2.1 is not found)
# city.mmdb, asn.mmdb and flat-city.mmdb are IPv6 trees with IPv4 aliased (::ffff:0:0/96, 2001::/32, 2002::/16
# lead to the IPv4 records), so IPv4 addresses are found too. Every file holds the same four networks:
#
#   network          country            city           continent  latitude  longitude  ASN    AS organisation
#   192.0.2.0/24     DE Germany         Berlin         EU Europe  52.52     13.405     64500  Example Transit GmbH
#   2001:db8::/32    JP Japan           Tokyo          AS Asia    35.6895   139.6917   64501  Example Networks KK
#   198.51.100.0/24  BR Brazil          São Paulo      SA South America  -23.5505  -46.6333  64502  Exemplo Telecom Ltda
#   127.0.0.0/8      US United States   Mountain View  NA North America  37.386  -122.0838  64503  Loopback Example Inc
#
# and nothing else (203.0.113.0/24 is in none of them). --variant=2 writes the same files with 192.0.2.0/24 moved
# to FR France, Paris, EU, 48.8566, 2.3522, AS64510 "Exemple Reseaux SAS" (the reload test). Reserved ranges are
# kept (remove_reserved_networks => 0: the writer drops loopback and documentation ranges otherwise). Each file
# is written under a temporary name and renamed into place, so a reader that has the old one mapped keeps it
# intact and a reload sees a whole file.
#
#   /usr/bin/perl tests/workers/geo/make_fixture_mmdb.pl OUTDIR [--variant=2]
use strict;
use warnings;
use utf8;
use MaxMind::DB::Writer::Tree;

my ( $outdir, $variant );
for my $arg (@ARGV) {
    if    ( $arg =~ /\A--variant=([12])\z/ ) { $variant = $1 }
    elsif ( $arg !~ /\A-/ && !defined $outdir ) { $outdir = $arg }
    else                                        { die "usage: $0 OUTDIR [--variant=2]\n" }
}
die "usage: $0 OUTDIR [--variant=2]\n" unless defined $outdir;
$variant //= 1;
-d $outdir or mkdir $outdir or die "$outdir: $!\n";

my %continent_name = ( EU => 'Europe', AS => 'Asia', SA => 'South America', NA => 'North America' );
# network, country code, country name, state1 (flat schema), city, continent, latitude, longitude, timezone (flat
# schema), ASN, AS organisation
my @places = (
    [ '192.0.2.0/24', 'DE', 'Germany', 'Berlin', 'Berlin', 'EU', 52.52, 13.405, 'Europe/Berlin', 64500,
        'Example Transit GmbH' ],
    [ '2001:db8::/32', 'JP', 'Japan', 'Tokyo', 'Tokyo', 'AS', 35.6895, 139.6917, 'Asia/Tokyo', 64501,
        'Example Networks KK' ],
    [ '198.51.100.0/24', 'BR', 'Brazil', 'São Paulo', 'São Paulo', 'SA', -23.5505, -46.6333, 'America/Sao_Paulo',
        64502, 'Exemplo Telecom Ltda' ],
    [ '127.0.0.0/8', 'US', 'United States', 'California', 'Mountain View', 'NA', 37.386, -122.0838,
        'America/Los_Angeles', 64503, 'Loopback Example Inc' ],
);
if ( $variant == 2 ) {
    $places[0] = [ '192.0.2.0/24', 'FR', 'France', 'Île-de-France', 'Paris', 'EU', 48.8566, 2.3522, 'Europe/Paris',
        64510, 'Exemple Reseaux SAS' ];
}

my %types = (
    # GeoLite2-City
    country   => 'map',
    iso_code  => 'utf8_string',
    names     => 'map',
    en        => 'utf8_string',
    continent => 'map',
    code      => 'utf8_string',
    location  => 'map',
    # GeoLite2-ASN
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
    # DB-IP / ip-location-db (city is a map in GeoLite2-City, a string here: per tree below)
    country_code => 'utf8_string',
    state1       => 'utf8_string',
    state2       => 'utf8_string',
    postcode     => 'utf8_string',
    timezone     => 'utf8_string',
);

sub write_db {
    my ( $name, $ip_version, $database_type, $coordinate_type, $city_type, $record_of ) = @_;
    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version               => $ip_version,
        record_size              => 24,
        database_type            => $database_type,
        languages                => ['en'],
        description              => { en => "squatstream geo test fixture (variant $variant)" },
        alias_ipv6_to_ipv4       => $name eq 'flat-city-ipv6.mmdb' || $ip_version == 4 ? 0 : 1,
        remove_reserved_networks => 0,
        map_key_type_callback    => sub {
            my $key = shift;
            return $coordinate_type if $key eq 'latitude' || $key eq 'longitude';
            return $city_type       if $key eq 'city';
            return $types{$key} // die "$name: no type for key $key\n";
        },
    );
    for my $place (@places) {
        my $ipv6 = $place->[0] =~ /:/;
        next if $ip_version == 4 && $ipv6;
        next if $name eq 'flat-city-ipv6.mmdb' && !$ipv6;
        $tree->insert_network( $place->[0], $record_of->( @{$place} ) );
    }
    my $path = "$outdir/$name";
    open my $fh, '>:raw', "$path.tmp" or die "$path.tmp: $!\n";
    $tree->write_tree($fh);
    close $fh or die "$path.tmp: $!\n";
    rename "$path.tmp", $path or die "$path: $!\n";
}

write_db(
    'city.mmdb', 6, 'GeoLite2-City', 'double', 'map',
    sub {
        my ( undef, $cc, $country, undef, $city, $continent, $lat, $lon ) = @_;
        return {
            country   => { iso_code => $cc,        names => { en => $country } },
            city      => { names    => { en => $city } },
            continent => { code     => $continent, names => { en => $continent_name{$continent} } },
            location  => { latitude => $lat,      longitude => $lon },
        };
    }
);
write_db(
    'asn.mmdb', 6, 'GeoLite2-ASN', 'double', 'map',
    sub {
        my ( $asn, $org ) = @_[ 9, 10 ];
        return { autonomous_system_number => $asn, autonomous_system_organization => $org };
    }
);
my $flat = sub {
    my ( undef, $cc, undef, $state1, $city, undef, $lat, $lon, $tz ) = @_;
    return {
        country_code => $cc,
        state1       => $state1,
        state2       => '',
        city         => $city,
        postcode     => '',
        latitude     => $lat,
        longitude    => $lon,
        timezone     => $tz,
    };
};
write_db( 'flat-city.mmdb',      6, 'city ipv6', 'float', 'utf8_string', $flat );
write_db( 'flat-city-ipv4.mmdb', 4, 'city ipv4', 'float', 'utf8_string', $flat );
write_db( 'flat-city-ipv6.mmdb', 6, 'city ipv6', 'float', 'utf8_string', $flat );
