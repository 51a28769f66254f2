//! `rotate`: gives a decky a new random set of one to three services, drawn from its
//! archetype's services when it has an archetype, else from every per-decky service. It keeps
//! drawing until the set differs from the current one (up to [`MAX_ATTEMPTS`] draws, so a
//! one-service pool simply yields that service again). The draw is seeded by the host, so the
//! same input always gives the same answer.

use std::collections::BTreeSet;

use chaff_plugin_sdk::prelude::*;

pub struct Rotate;

/// Most services a decky is given at once.
const MAX_SERVICES: usize = 3;
/// Draws before giving up on finding a set different from the current one.
const MAX_ATTEMPTS: usize = 21;

impl StrategyPlugin for Rotate {
    fn strategies() -> Vec<StrategyInfo> {
        vec![StrategyInfo {
            id: "rotate".into(),
            kind: StrategyKind::Mutate,
            description: "A new random set of 1 to 3 services, from the decky's archetype when it has one."
                .into(),
            parameters: Vec::new(),
        }]
    }

    fn mutate(strategy: &str, input: &MutateInput) -> Result<Vec<String>, StrategyError> {
        if strategy != "rotate" {
            return Err(StrategyError::UnknownStrategy(strategy.to_owned()));
        }
        let mut pool: Vec<&str> = Vec::new();
        for service in input.archetype_services.as_ref().unwrap_or(&input.available) {
            if !pool.contains(&service.as_str()) {
                pool.push(service.as_str());
            }
        }
        if pool.is_empty() {
            return Err(StrategyError::NoCandidates(format!(
                "No services available to mutate {}",
                input.decky
            )));
        }
        let current: BTreeSet<&str> = input.current.iter().map(String::as_str).collect();
        let mut rng = fastrand::Rng::with_seed(input.seed);
        let mut chosen = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            let count = rng.usize(1..=pool.len().min(MAX_SERVICES));
            chosen = sample(&mut rng, pool.len(), count).into_iter().map(|i| pool[i]).collect();
            if chosen.iter().copied().collect::<BTreeSet<_>>() != current {
                break;
            }
        }
        Ok(chosen.into_iter().map(str::to_owned).collect())
    }
}

/// `count` distinct indices below `len`, ascending (a partial Fisher-Yates shuffle).
fn sample(rng: &mut fastrand::Rng, len: usize, count: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    for i in 0..count {
        let j = rng.usize(i..len);
        indices.swap(i, j);
    }
    indices.truncate(count);
    indices.sort_unstable();
    indices
}

chaff_plugin_sdk::export_strategy!(Rotate);

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn input(current: &[&str], archetype: Option<&[&str]>, seed: u64) -> MutateInput {
        MutateInput {
            decky: "decky-01".into(),
            current: strings(current),
            archetype_services: archetype.map(strings),
            available: strings(&["ftp", "http", "mysql", "redis", "smb", "ssh", "telnet"]),
            now: 1_700_000_000,
            seed,
        }
    }

    fn mutate(input: &MutateInput) -> Vec<String> {
        Rotate::mutate("rotate", input).unwrap()
    }

    #[test]
    fn same_seed_same_answer_and_seeds_vary() {
        let first = mutate(&input(&["ssh"], None, 42));
        assert_eq!(first, mutate(&input(&["ssh"], None, 42)));
        let answers: BTreeSet<_> = (0..32).map(|seed| mutate(&input(&["ssh"], None, seed))).collect();
        assert!(answers.len() > 10, "only {} distinct answers", answers.len());
    }

    #[test]
    fn one_to_three_distinct_services_in_pool_order() {
        let pool = input(&[], None, 0).available;
        let mut sizes = BTreeSet::new();
        for seed in 0..200 {
            let chosen = mutate(&input(&["ssh"], None, seed));
            sizes.insert(chosen.len());
            let positions: Vec<_> =
                chosen.iter().map(|s| pool.iter().position(|p| p == s).expect("from the pool")).collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{chosen:?} not in pool order");
        }
        assert_eq!(sizes, BTreeSet::from([1, 2, 3]));
    }

    #[test]
    fn differs_from_current_when_possible() {
        for seed in 0..200 {
            assert_ne!(mutate(&input(&["http", "ssh"], None, seed)), ["http", "ssh"]);
            assert_ne!(mutate(&input(&["smb"], Some(&["smb", "rdp"]), seed)), ["smb"]);
        }
    }

    #[test]
    fn a_one_service_pool_gives_the_current_set_back() {
        for seed in 0..20 {
            assert_eq!(mutate(&input(&["sip"], Some(&["sip"]), seed)), ["sip"]);
        }
    }

    #[test]
    fn the_archetype_pool_is_preferred() {
        let archetype = ["ldap", "smb", "rdp", "llmnr"];
        for seed in 0..100 {
            let chosen = mutate(&input(&["ldap"], Some(&archetype), seed));
            assert!(chosen.iter().all(|s| archetype.contains(&s.as_str())), "{chosen:?}");
        }
    }

    #[test]
    fn an_empty_pool_has_no_candidates() {
        let mut empty = input(&["ssh"], None, 1);
        empty.available.clear();
        assert_eq!(
            Rotate::mutate("rotate", &empty),
            Err(StrategyError::NoCandidates("No services available to mutate decky-01".into()))
        );
        assert!(matches!(
            Rotate::mutate("rotate", &input(&["ssh"], Some(&[]), 1)),
            Err(StrategyError::NoCandidates(_))
        ));
    }

    #[test]
    fn only_rotate_is_known() {
        let info = Rotate::strategies();
        assert_eq!(info.len(), 1);
        assert_eq!((info[0].id.as_str(), info[0].kind), ("rotate", StrategyKind::Mutate));
        assert_eq!(
            Rotate::mutate("shuffle", &input(&[], None, 0)),
            Err(StrategyError::UnknownStrategy("shuffle".into()))
        );
    }
}
