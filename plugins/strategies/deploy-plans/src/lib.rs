//! Deploy plans: in which batch, and on which host, each decky of a fleet is deployed.
//!
//! * `all-at-once`: every decky in batch 0.
//! * `rolling`: `batch-size` deckies per batch, in input order.
//!
//! Placement is the same for both: a decky pinned to a host stays there; the others go
//! round-robin over the hosts, in order.

use chaff_plugin_sdk::prelude::*;

pub struct DeployPlans;

const DEFAULT_BATCH_SIZE: &str = "5";

impl StrategyPlugin for DeployPlans {
    fn strategies() -> Vec<StrategyInfo> {
        vec![
            StrategyInfo {
                id: "all-at-once".into(),
                kind: StrategyKind::Deploy,
                description: "Deploy every decky at once.".into(),
                parameters: Vec::new(),
            },
            StrategyInfo {
                id: "rolling".into(),
                kind: StrategyKind::Deploy,
                description: "Deploy the deckies a few at a time, in order.".into(),
                parameters: vec![ParameterInfo {
                    key: "batch-size".into(),
                    description: "Deckies deployed together in one batch.".into(),
                    default: DEFAULT_BATCH_SIZE.into(),
                }],
            },
        ]
    }

    fn plan(strategy: &str, input: &PlanInput) -> Result<Vec<PlanStep>, StrategyError> {
        let batch_size = match strategy {
            "all-at-once" => None,
            "rolling" => Some(batch_size(input)?),
            _ => return Err(StrategyError::UnknownStrategy(strategy.to_owned())),
        };
        let hosts = place(input)?;
        input
            .deckies
            .iter()
            .zip(hosts)
            .enumerate()
            .map(|(index, (decky, host))| {
                let batch = batch_size.map_or(0, |size| index / size);
                let batch = u32::try_from(batch)
                    .map_err(|_| StrategyError::InvalidInput("too many batches".into()))?;
                Ok(PlanStep { decky: decky.name.clone(), host, batch })
            })
            .collect()
    }
}

fn batch_size(input: &PlanInput) -> Result<usize, StrategyError> {
    let value = input.parameter("batch-size").unwrap_or_else(|| DEFAULT_BATCH_SIZE.into());
    match value.parse::<usize>() {
        Ok(size) if size > 0 => Ok(size),
        _ => {
            Err(StrategyError::InvalidInput(format!("batch-size must be a positive integer, got '{value}'")))
        }
    }
}

/// The host of each decky, in input order: its pinned host, else the next host round-robin.
fn place(input: &PlanInput) -> Result<Vec<String>, StrategyError> {
    if input.hosts.is_empty() {
        return Err(StrategyError::InvalidInput("no hosts to deploy on".into()));
    }
    let mut next = input.hosts.iter().cycle();
    input
        .deckies
        .iter()
        .map(|decky| match &decky.host {
            Some(host) if input.hosts.contains(host) => Ok(host.clone()),
            Some(host) => Err(StrategyError::InvalidInput(format!(
                "decky '{}' is pinned to host '{host}', which is not one of the available hosts",
                decky.name
            ))),
            None => Ok(next.next().expect("hosts is not empty").clone()),
        })
        .collect()
}

chaff_plugin_sdk::export_strategy!(DeployPlans);

#[cfg(test)]
mod tests {
    use super::*;

    fn input(deckies: &[(&str, Option<&str>)], hosts: &[&str], batch_size: Option<ConfigValue>) -> PlanInput {
        PlanInput {
            deckies: deckies
                .iter()
                .map(|(name, host)| PlanDecky { name: (*name).into(), host: host.map(Into::into) })
                .collect(),
            hosts: hosts.iter().map(|h| (*h).into()).collect(),
            parameters: batch_size.map(|v| ("batch-size".to_owned(), v)).into_iter().collect(),
            now: 0,
            seed: 0,
        }
    }

    fn fleet(n: usize) -> Vec<(String, Option<&'static str>)> {
        (0..n).map(|i| (format!("decky-{i:02}"), None)).collect()
    }

    fn steps(plan: &[PlanStep]) -> Vec<(&str, &str, u32)> {
        plan.iter().map(|s| (s.decky.as_str(), s.host.as_str(), s.batch)).collect()
    }

    #[test]
    fn all_at_once_is_one_batch_round_robin() {
        let plan = DeployPlans::plan(
            "all-at-once",
            &input(&[("a", None), ("b", None), ("c", None)], &["local", "worker-1"], None),
        )
        .unwrap();
        assert_eq!(steps(&plan), [("a", "local", 0), ("b", "worker-1", 0), ("c", "local", 0)]);
    }

    #[test]
    fn pinned_deckies_keep_their_host_and_skip_the_rotation() {
        let plan = DeployPlans::plan(
            "all-at-once",
            &input(
                &[("a", None), ("b", Some("local")), ("c", None), ("d", None)],
                &["local", "w1", "w2"],
                None,
            ),
        )
        .unwrap();
        assert_eq!(steps(&plan), [("a", "local", 0), ("b", "local", 0), ("c", "w1", 0), ("d", "w2", 0)]);
    }

    #[test]
    fn rolling_defaults_to_batches_of_five() {
        let names = fleet(12);
        let deckies: Vec<_> = names.iter().map(|(n, h)| (n.as_str(), *h)).collect();
        let plan = DeployPlans::plan("rolling", &input(&deckies, &["local"], None)).unwrap();
        let batches: Vec<u32> = plan.iter().map(|s| s.batch).collect();
        assert_eq!(batches, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2]);
        assert!(plan.iter().zip(&names).all(|(s, (n, _))| &s.decky == n));
    }

    #[test]
    fn rolling_takes_the_batch_size_as_text_or_integer() {
        let deckies = [("a", None), ("b", None), ("c", Some("w1"))];
        for size in [ConfigValue::Text("2".into()), ConfigValue::Integer(2)] {
            let plan = DeployPlans::plan("rolling", &input(&deckies, &["w0", "w1"], Some(size))).unwrap();
            assert_eq!(steps(&plan), [("a", "w0", 0), ("b", "w1", 0), ("c", "w1", 1)]);
        }
    }

    #[test]
    fn rolling_rejects_a_bad_batch_size() {
        for bad in ["0", "-3", "two", "", "1.5"] {
            let err = DeployPlans::plan(
                "rolling",
                &input(&[("a", None)], &["local"], Some(ConfigValue::Text(bad.into()))),
            )
            .unwrap_err();
            assert_eq!(
                err,
                StrategyError::InvalidInput(format!("batch-size must be a positive integer, got '{bad}'"))
            );
        }
    }

    #[test]
    fn placement_errors() {
        for strategy in ["all-at-once", "rolling"] {
            let err =
                DeployPlans::plan(strategy, &input(&[("a", Some("gone"))], &["local"], None)).unwrap_err();
            let StrategyError::InvalidInput(message) = err else { panic!("{err:?}") };
            assert!(message.contains("'a'") && message.contains("'gone'"), "{message}");
            let err = DeployPlans::plan(strategy, &input(&[("a", None)], &[], None)).unwrap_err();
            assert!(matches!(err, StrategyError::InvalidInput(_)));
        }
    }

    #[test]
    fn catalogue_and_unknown_strategies() {
        let ids: Vec<_> =
            DeployPlans::strategies().into_iter().map(|s| (s.id, s.kind, s.parameters.len())).collect();
        assert_eq!(
            ids,
            [("all-at-once".into(), StrategyKind::Deploy, 0), ("rolling".into(), StrategyKind::Deploy, 1)]
        );
        let empty = input(&[], &["local"], None);
        assert_eq!(
            DeployPlans::plan("blue-green", &empty),
            Err(StrategyError::UnknownStrategy("blue-green".into()))
        );
        assert_eq!(DeployPlans::plan("rolling", &empty), Ok(Vec::new()));
        let mutate = MutateInput {
            decky: "a".into(),
            current: Vec::new(),
            archetype_services: None,
            available: Vec::new(),
            now: 0,
            seed: 0,
        };
        assert!(matches!(DeployPlans::mutate("rolling", &mutate), Err(StrategyError::UnknownStrategy(_))));
    }
}
