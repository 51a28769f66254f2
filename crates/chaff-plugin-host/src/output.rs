//! Checks on what strategies answer. A strategy decides and the engine acts, so the answer
//! must make sense for the question: a mutation picks offered services, a plan places every
//! decky asked about exactly once on a host that exists.

use std::collections::HashSet;

use crate::spec::{MutateInput, PlanInput, PlanStep};

/// Bytes a plan step counts for beyond its strings (its batch number).
const PLAN_STEP_OVERHEAD: usize = 4;

/// The size of a mutate answer, as counted against the strategy output limit.
pub fn mutate_size(services: &[String]) -> usize {
    services.iter().map(String::len).sum()
}

/// The size of a plan answer, as counted against the strategy output limit.
pub fn plan_size(steps: &[PlanStep]) -> usize {
    steps.iter().map(|s| s.decky.len() + s.host.len() + PLAN_STEP_OVERHEAD).sum()
}

/// A mutate answer: non-empty, no duplicates, every service among those offered (the
/// available services, or the archetype's, which a strategy may prefer).
pub fn check_mutate(input: &MutateInput, services: &[String]) -> Result<(), String> {
    if services.is_empty() {
        return Err("no services chosen (a strategy with nothing to offer answers no-candidates)".into());
    }
    let mut seen = HashSet::new();
    for service in services {
        if !seen.insert(service) {
            return Err(format!("service '{service}' chosen twice"));
        }
        let offered = input.available.contains(service)
            || input.archetype_services.as_ref().is_some_and(|archetype| archetype.contains(service));
        if !offered {
            return Err(format!("service '{service}' was not among the services offered"));
        }
    }
    Ok(())
}

/// A plan: every input decky exactly once, each on a known host (its pinned host if it has
/// one).
pub fn check_plan(input: &PlanInput, steps: &[PlanStep]) -> Result<(), String> {
    let mut placed = HashSet::new();
    for step in steps {
        let Some(decky) = input.deckies.iter().find(|d| d.name == step.decky) else {
            return Err(format!("step for unknown decky '{}'", step.decky));
        };
        if !placed.insert(step.decky.as_str()) {
            return Err(format!("decky '{}' planned twice", step.decky));
        }
        match &decky.host {
            Some(pinned) if *pinned != step.host => {
                return Err(format!(
                    "decky '{}' is pinned to '{pinned}' but planned on '{}'",
                    step.decky, step.host
                ));
            }
            Some(_) => {}
            None if !input.hosts.contains(&step.host) => {
                return Err(format!("decky '{}' planned on unknown host '{}'", step.decky, step.host));
            }
            None => {}
        }
    }
    match input.deckies.iter().find(|d| !placed.contains(d.name.as_str())) {
        Some(missing) => Err(format!("decky '{}' is missing from the plan", missing.name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;
    use crate::spec::PlanDecky;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn mutate_input() -> MutateInput {
        MutateInput {
            decky: "d1".into(),
            current: strings(&["ssh"]),
            archetype_services: None,
            available: strings(&["ftp", "http", "ssh"]),
            now: 0,
            seed: 1,
        }
    }

    fn plan_input() -> PlanInput {
        PlanInput {
            deckies: vec![
                PlanDecky { name: "a".into(), host: None },
                PlanDecky { name: "b".into(), host: Some("pinned".into()) },
            ],
            hosts: strings(&["h1", "h2"]),
            parameters: IndexMap::new(),
            now: 0,
            seed: 1,
        }
    }

    fn step(decky: &str, host: &str) -> PlanStep {
        PlanStep { decky: decky.into(), host: host.into(), batch: 0 }
    }

    #[test]
    fn mutate_answers() {
        let input = mutate_input();
        check_mutate(&input, &strings(&["http", "ftp"])).unwrap();
        assert!(check_mutate(&input, &[]).unwrap_err().contains("no services"));
        assert!(check_mutate(&input, &strings(&["http", "http"])).unwrap_err().contains("twice"));
        assert!(check_mutate(&input, &strings(&["smb"])).unwrap_err().contains("'smb'"));
        let with_archetype = MutateInput { archetype_services: Some(strings(&["smb"])), ..mutate_input() };
        check_mutate(&with_archetype, &strings(&["smb", "ftp"])).unwrap();
        assert_eq!(mutate_size(&strings(&["ab", "c"])), 3);
    }

    #[test]
    fn plans() {
        let input = plan_input();
        check_plan(&input, &[step("a", "h2"), step("b", "pinned")]).unwrap();
        assert!(check_plan(&input, &[step("a", "h1")]).unwrap_err().contains("'b' is missing"));
        assert!(
            check_plan(&input, &[step("a", "h1"), step("a", "h1"), step("b", "pinned")])
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            check_plan(&input, &[step("a", "h9"), step("b", "pinned")]).unwrap_err().contains("unknown host")
        );
        assert!(check_plan(&input, &[step("a", "h1"), step("b", "h1")]).unwrap_err().contains("pinned"));
        assert!(check_plan(&input, &[step("zz", "h1")]).unwrap_err().contains("unknown decky"));
        assert_eq!(plan_size(&[step("ab", "h1")]), 8);
    }
}
