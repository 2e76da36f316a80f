//! twistrs (https://crates.io/crates/twistrs), the Rust engine behind Have I Been Squatted, run the way
//! bench/run_permute_bench.py runs squatstream and dnstwist: every permutation of one domain with twistrs'
//! default set (`Domain::visit_all`, the library's fastest, allocation-free API, with the `Permissive`
//! filter), timed in-process.
//!
//!   twistrs-peer [--rounds=N] DOMAIN         one JSON line: emitted and distinct names, best time of N
//!   twistrs-peer --list DOMAIN               every distinct name with the twistrs kinds that made it
//!
//! twistrs does not deduplicate (a name two kinds make is emitted twice); squatstream does. So the JSON
//! gives two times: `seconds` for the bare walk (names emitted, nothing kept) and `seconds_distinct` for the
//! walk plus a hash set of the names, which is the same work squatstream's figure includes.
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use twistrs::filter::Permissive;
use twistrs::permutate::Domain;

fn main() {
    let mut rounds = 5u32;
    let mut list = false;
    let mut domain = None;
    for arg in std::env::args().skip(1) {
        if let Some(n) = arg.strip_prefix("--rounds=") {
            rounds = n.parse().expect("--rounds=N takes a positive integer");
        } else if arg == "--list" {
            list = true;
        } else if domain.is_none() && !arg.starts_with("--") {
            domain = Some(arg);
        } else {
            eprintln!("usage: twistrs-peer [--rounds=N] [--list] DOMAIN");
            std::process::exit(2);
        }
    }
    let Some(domain) = domain else {
        eprintln!("usage: twistrs-peer [--rounds=N] [--list] DOMAIN");
        std::process::exit(2);
    };
    let parsed = match Domain::new(&domain) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("twistrs-peer: twistrs refuses {domain}: {e:?}");
            std::process::exit(1);
        }
    };

    if list {
        let mut kinds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        parsed.visit_all(&Permissive, |p| {
            if p.domain.fqdn != domain {
                kinds.entry(p.domain.fqdn.to_string()).or_default().insert(format!("{:?}", p.kind));
            }
        });
        for (name, k) in kinds {
            println!("{name}\t{}", k.into_iter().collect::<Vec<_>>().join(","));
        }
        return;
    }

    let mut best = f64::INFINITY;
    let mut best_distinct = f64::INFINITY;
    let mut emitted = 0u64;
    let mut distinct = 0usize;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let mut n = 0u64;
        let mut bytes = 0usize; // keeps the walk from being optimised away
        parsed.visit_all(&Permissive, |p| {
            n += 1;
            bytes += p.domain.fqdn.len();
        });
        best = best.min(start.elapsed().as_secs_f64());
        std::hint::black_box(bytes);
        emitted = n;

        let start = Instant::now();
        let mut seen: HashSet<String> = HashSet::new();
        parsed.visit_all(&Permissive, |p| {
            if p.domain.fqdn != domain && !seen.contains(p.domain.fqdn) {
                seen.insert(p.domain.fqdn.to_string());
            }
        });
        best_distinct = best_distinct.min(start.elapsed().as_secs_f64());
        distinct = seen.len();
    }
    println!(
        "{{\"domain\":\"{domain}\",\"emitted\":{emitted},\"distinct\":{distinct},\"seconds\":{best:.6},\"seconds_distinct\":{best_distinct:.6},\"rounds\":{rounds}}}"
    );
}
