#!/usr/bin/perl
# Builds a MaxMind-format ASN database from ip-location-db's ASN CSVs (npm @ip-location-db/asn: asn-ipv4.csv and
# asn-ipv6.csv, lines `start,end,asn,org` with inclusive ranges and the org CSV-quoted when it needs to be).
# The records use the GeoLite2-ASN field names, so the geo enricher reads this file and MaxMind's own ASN files
# alike:
#   autonomous_system_number        uint32
#   autonomous_system_organization  utf8_string
# One IPv6 tree with the IPv4 space aliased (::ffff:0:0/96, 2001::/32 and 2002::/16 lead to the IPv4 records, as in
# MaxMind's files), so one lookup function serves both families.
#
#   scripts/build-asn-mmdb.pl ASN_IPV4_CSV ASN_IPV6_CSV OUT.mmdb
#
# Needs Debian's libmaxmind-db-writer-perl. Writes OUT.mmdb.tmp and renames it, so a reader never sees a
# half-written file. The CSVs hold no adjacent ranges of one AS (upstream merges them already), so merging first
# would gain nothing. About 15 s and 190 MB here (515,000 ranges, 91,000 AS records; an 11.5 MB file).
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;
use Socket qw(inet_pton AF_INET AF_INET6);

die "usage: $0 ASN_IPV4_CSV ASN_IPV6_CSV OUT.mmdb\n" unless @ARGV == 3;
my ( $ipv4_csv, $ipv6_csv, $out ) = @ARGV;

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'ip-location-db-ASN',
    languages                => ['en'],
    description              => {
        en => 'IP to ASN from ip-location-db (npm @ip-location-db/asn): '
            . 'RouteViews, NRO and DB-IP ASN Lite data, CC BY 4.0',
    },
    alias_ipv6_to_ipv4       => 1,
    remove_reserved_networks => 0,
    map_key_type_callback    => sub {
        my $key = shift;
        return 'uint32'      if $key eq 'autonomous_system_number';
        return 'utf8_string' if $key eq 'autonomous_system_organization';
        die "unexpected key $key\n";
    },
);

# The IPv6 space the IPv4 records live in (::/96) or the aliases take over (::ffff:0:0/96 IPv4-mapped,
# 2001::/32 Teredo, 2002::/16 6to4): the writer refuses insertions there. The IPv6 CSV maps 2001::/32 and
# 2002::/16 as a whole to Hurricane Electric (their relays); with the aliases an address there gets the AS of the
# IPv4 address it embeds (for Teredo, the server's), as in MaxMind's databases.
my @aliased = (
    [ hex6('::'),     hex6('::ffff:ffff:ffff') ],
    [ hex6('2001::'), hex6('2001:0:ffff:ffff:ffff:ffff:ffff:ffff') ],
    [ hex6('2002::'), hex6('2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff') ],
);

# Records are shared between ranges of one AS: one hash per (asn, org), so the writer serialises each once.
my %records;
my $ranges = 0;
my @skipped;  # ranges of the IPv6 CSV inside ::/96 or the aliases

for my $spec ( [ $ipv4_csv, AF_INET ], [ $ipv6_csv, AF_INET6 ] ) {
    my ( $path, $family ) = @{$spec};
    open my $fh, '<:encoding(UTF-8)', $path or die "$path: $!\n";
    while ( my $line = <$fh> ) {
        $line =~ s/\r?\n\z//;
        next if $line eq '';
        my ( $start, $end, $asn, $org ) = split /,/, $line, 4;
        die "$path:$.: not `start,end,asn,org`: $line\n"
            unless defined $org && $asn =~ /\A[0-9]+\z/ && $asn <= 4294967295;
        if ( $org =~ /\A"(.*)"\z/s ) { ( $org = $1 ) =~ s/""/"/g }
        for my $ip ( $start, $end ) {
            die "$path:$.: bad address $ip\n" unless inet_pton( $family, $ip );
        }
        if ( $family == AF_INET6 ) {
            my ( $s, $e ) = ( hex6($start), hex6($end) );
            if ( grep { $s le $_->[1] && $e ge $_->[0] } @aliased ) {
                push @skipped, "$start-$end (AS$asn)";
                next;
            }
        }
        my $record = $records{"$asn\0$org"} //= {
            autonomous_system_number       => 0 + $asn,
            autonomous_system_organization => $org,
        };
        $tree->insert_range( $start, $end, $record );
        $ranges++;
    }
    close $fh;
}

open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$out.tmp: $!\n";
rename "$out.tmp", $out or die "$out: $!\n";
printf "build-asn-mmdb: %s: %d ranges, %d AS records%s\n", $out, $ranges, scalar( keys %records ),
    @skipped ? '; left out, as the IPv4 aliases hold them: ' . join( ', ', @skipped ) : '';

sub hex6 { unpack 'H*', inet_pton( AF_INET6, $_[0] ) }
