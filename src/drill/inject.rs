//! The failure a scenario is about, as changes to a sim world: a failover loses its
//! home region (or, when it moves only some services, those services at home); a
//! restore loses its services at home; a custom scenario injects nothing.

use std::path::Path;

use crate::error::Error;
use crate::model::{Environment, Scenario, Strategy};
use crate::providers::sim::SimWorld;

/// What a drill breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    RegionDown(String),
    ServicesDown {
        region: String,
        services: Vec<String>,
    },
    Nothing,
}

impl Injection {
    /// The failure `scenario` is about.
    pub fn of(env: &Environment, scenario: &Scenario) -> Self {
        let home = env.home.value.clone();
        let listed = scenario
            .services
            .as_ref()
            .map(|names| names.iter().map(|n| n.value.clone()).collect::<Vec<_>>());
        match (&scenario.strategy, listed) {
            // A switchover is planned: home stays up.
            (Strategy::Custom | Strategy::Switchover { .. }, _) => Self::Nothing,
            (Strategy::Failover { .. }, None) => Self::RegionDown(home),
            (Strategy::Failover { .. } | Strategy::Restore, Some(services)) => Self::ServicesDown {
                region: home,
                services,
            },
            (Strategy::Restore, None) => Self::ServicesDown {
                region: home,
                services: env.services.iter().map(|s| s.name.value.clone()).collect(),
            },
        }
    }

    /// `region us-east-1 down`.
    pub fn describe(&self) -> String {
        match self {
            Self::RegionDown(region) => format!("region {region} down"),
            Self::ServicesDown { region, services } => {
                format!("{} down in {region}", services.join(", "))
            }
            Self::Nothing => "nothing (a custom scenario runs only its own steps)".to_string(),
        }
    }

    /// Breaks (`up` false) or repairs (`up` true) the world saved at `path`, whose
    /// replication lags are scaled by `scale`.
    pub fn set(&self, path: &Path, scale: f64, up: bool) -> Result<(), Error> {
        SimWorld::edit(path, scale, |world| match self {
            Self::RegionDown(region) => world.set_region(region, up),
            Self::ServicesDown { region, services } => services
                .iter()
                .try_for_each(|service| world.set_service(service, Some(region), up)),
            Self::Nothing => Ok(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> Environment {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/production.toml");
        crate::model::load(&path).unwrap().env
    }

    #[test]
    fn each_strategy_breaks_what_its_scenario_is_about() {
        let env = production();
        let of = |name: &str| Injection::of(&env, env.scenario(name).unwrap()).describe();
        assert_eq!(of("regional-failure"), "region us-east-1 down");
        assert_eq!(
            of("provider-outage"),
            "api, chat, scraper, woocommerce-sync down in us-east-1"
        );
        assert_eq!(of("data-corruption"), "database down in us-east-1");
        assert!(of("ddos-attack").starts_with("nothing"));
    }

    #[test]
    fn an_injection_is_undone_by_setting_it_up() {
        let env = production();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("world.json");
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let nominal = SimWorld::nominal(&env, now);
        nominal.save(&path).unwrap();
        let injection = Injection::of(&env, env.scenario("regional-failure").unwrap());

        injection.set(&path, 0.0, false).unwrap();
        assert!(!SimWorld::load(&path).unwrap().regions["us-east-1"].up);
        injection.set(&path, 0.0, true).unwrap();
        assert_eq!(SimWorld::load(&path).unwrap(), nominal);
    }
}
