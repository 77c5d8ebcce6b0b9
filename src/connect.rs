//! Choosing and building what lazysqs talks to: the built-in simulation (the demo)
//! or AWS, from the command line and the config. Shared by the dashboard and the
//! headless commands.

mod declared;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::app::{App, Settings};
use crate::broker::aws::{AwsBroker, AwsOptions, has_credentials_hint};
use crate::broker::multi::{Member, MultiBroker};
use crate::broker::{Broker, QueueSelection};
use crate::cli::Cli;
use crate::config::{self, BreakerConfig, BreakerSourceConfig, Config, RefreshConfig};
use crate::recovery::audit::Audit;
use crate::sim::scenario::ScenarioFile;
use crate::sim::{Sim, SimBroker};
use crate::ui::theme::Theme;

/// The queue system chosen from the command line and config: the demo or AWS.
/// Shared by the dashboard and the headless commands.
pub struct Connection {
    pub broker: Arc<dyn Broker>,
    /// The simulation, when this is the demo (it needs a driver to advance).
    pub sim: Option<SimBroker>,
    /// Where the data comes from, for the status bar ("demo: …", "AWS us-east-1").
    pub source: String,
    /// The configured breakers, plus the demo scenario's own.
    pub breakers: Vec<BreakerConfig>,
}

impl Connection {
    pub(crate) fn is_demo(&self) -> bool {
        self.sim.is_some()
    }

    /// The simulation's breakers, when this is the demo.
    pub fn demo_breakers(&self) -> Option<&dyn crate::breaker::DemoBreakers> {
        self.sim
            .as_ref()
            .map(|s| s as &dyn crate::breaker::DemoBreakers)
    }
}

/// Everything the dashboard needs to start.
pub struct Setup {
    pub broker: Arc<dyn Broker>,
    pub sim: Option<SimBroker>,
    pub app: App,
    pub theme: Theme,
    pub speed: f64,
}

impl Cli {
    /// The config file, if one was given or exists at the default path.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let path = match &self.config {
            Some(p) => Some(p.clone()),
            None => Config::default_path().filter(|p| p.is_file()),
        };
        match path {
            Some(p) => Ok(Config::load(&p)?),
            None => Ok(Config::default()),
        }
    }

    /// Where to connect: each profile in each region. The command line's
    /// `--profile`/`--region` replace the config's; with no region, each profile
    /// brings its own. At least one (the standard chain, unnarrowed).
    pub(crate) fn aws_places(&self, config: &Config) -> Vec<AwsOptions> {
        let or_config = |cli: &[String], file: Vec<String>| match cli {
            [] => file,
            given => config::once_each(given),
        };
        let profiles = or_config(&self.profile, config.aws.all_profiles());
        let regions = or_config(&self.region, config.aws.all_regions());
        let endpoint_url = self
            .endpoint_url
            .clone()
            .or(config.aws.endpoint_url.clone());
        let optional = |v: Vec<String>| -> Vec<Option<String>> {
            if v.is_empty() {
                vec![None]
            } else {
                v.into_iter().map(Some).collect()
            }
        };
        let mut places = Vec::new();
        for profile in optional(profiles) {
            for region in optional(regions.clone()) {
                places.push(AwsOptions {
                    profile: profile.clone(),
                    region,
                    endpoint_url: endpoint_url.clone(),
                });
            }
        }
        places
    }

    /// Which queues to watch: `--queue`/`--prefix`, else the config's.
    pub fn selection(&self, config: &Config) -> QueueSelection {
        if self.queues.is_empty() && self.prefix.is_empty() {
            QueueSelection {
                names: config.queues.names.clone(),
                prefixes: config.queues.prefixes.clone(),
                place: None,
            }
        } else {
            QueueSelection {
                names: self.queues.clone(),
                prefixes: self.prefix.clone(),
                place: None,
            }
        }
    }

    /// Whether to run the demo: asked for, or nothing points at AWS.
    pub(crate) fn wants_demo(&self, config: &Config) -> bool {
        let opts = &self.aws_places(config)[0];
        let configured = opts.endpoint_url.is_some()
            || opts.profile.is_some()
            || !config.queues.names.is_empty()
            || !config.queues.prefixes.is_empty();
        self.demo || !(configured || has_credentials_hint())
    }

    pub fn theme(&self, config: &Config) -> anyhow::Result<Theme> {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Ok(Theme::monochrome());
        }
        let name = self
            .theme
            .clone()
            .or(config.display.theme.clone())
            .unwrap_or_else(|| "default".into());
        Theme::named(&name).with_context(|| {
            format!(
                "unknown theme {name:?} (use one of: {})",
                Theme::NAMES.join(", ")
            )
        })
    }

    /// Chooses and connects the broker (the demo or AWS) and gathers the breakers.
    pub async fn connect(&self, config: &Config) -> anyhow::Result<Connection> {
        if self.wants_demo(config) {
            let sim = self.demo_sim(config)?;
            let file_breakers = demo_breakers(&sim.lock().scenario.file);
            let mut breakers = config.breakers.clone();
            breakers.extend(file_breakers);
            let mut source = sim.describe();
            if !self.demo {
                source.push_str(" (no AWS configured)");
            }
            return Ok(Connection {
                broker: declared::wrap(Arc::new(sim.clone()), &config.dlqs),
                sim: Some(sim),
                source,
                breakers,
            });
        }
        let broker = declared::wrap(connect_all(&self.aws_places(config)).await?, &config.dlqs);
        Ok(Connection {
            source: broker.describe(),
            broker,
            sim: None,
            breakers: config.breakers.clone(),
        })
    }

    /// Resolves config, broker and the initial app state.
    pub async fn setup(&self, config: &Config, now: Instant) -> anyhow::Result<Setup> {
        let theme = self.theme(config)?;
        let keymap = config.keymap().map_err(anyhow::Error::msg)?;
        let conn = self.connect(config).await?;
        let demo = conn.is_demo();
        let refresh = if demo && !config_has_refresh(config) {
            RefreshConfig::demo()
        } else {
            config.refresh.clone()
        };
        let speed = if demo {
            self.speed.or(config.demo.speed).unwrap_or(1.0)
        } else {
            1.0
        };
        let app = App::new(
            Settings {
                source: conn.source,
                demo,
                selection: self.selection(config),
                refresh,
                thresholds: config.thresholds.clone(),
                keymap,
                breakers: conn.breakers,
                read_only: self.read_only || config.read_only,
                browse_cap: config.browser.cap,
                triage_cap: config.triage.cap,
                audit_path: Audit::default_path().map(|p| p.display().to_string()),
                redact: config.display.redact.clone(),
                present: self.present || config.display.present,
                redrive: config.redrive.clone(),
                time_scale: speed,
            },
            now,
            chrono::Utc::now(),
        );
        Ok(Setup {
            broker: conn.broker,
            sim: conn.sim,
            app,
            theme,
            speed,
        })
    }

    fn demo_sim(&self, config: &Config) -> anyhow::Result<SimBroker> {
        if let Some(speed) = self.speed
            && !(speed.is_finite() && speed > 0.0)
        {
            anyhow::bail!("--speed must be above 0, not {speed}");
        }
        match self.scenario.as_ref().or(config.demo.scenario.as_ref()) {
            Some(path) => load_scenario(path),
            None => SimBroker::coffee_shop().map_err(anyhow::Error::msg),
        }
    }
}

/// One AWS connection, or several behind a [`MultiBroker`] (one per profile and
/// region, each described by where it goes).
pub async fn connect_all(places: &[AwsOptions]) -> anyhow::Result<Arc<dyn Broker>> {
    if let [one] = places {
        return Ok(Arc::new(AwsBroker::connect(one).await?));
    }
    let mut members = Vec::new();
    for opts in places {
        let broker = AwsBroker::connect(opts).await?;
        let mut label = broker.region().to_string();
        if let Some(p) = &opts.profile {
            label.push_str(&format!(" (profile {p})"));
        }
        members.push(Member {
            label,
            region: broker.region().to_string(),
            broker: Box::new(broker),
        });
    }
    let title = match &places[0].endpoint_url {
        Some(url) => crate::redact::url(url),
        None => "AWS".to_string(),
    };
    Ok(Arc::new(MultiBroker::new(title, members)))
}

/// Loads a scenario file, with errors naming the file and line.
pub(crate) fn load_scenario(path: &Path) -> anyhow::Result<SimBroker> {
    let built_in = path
        .to_str()
        .and_then(crate::sim::scenario::built_in)
        .filter(|_| !path.exists());
    let text = match built_in {
        Some(text) => text.to_string(),
        None => std::fs::read_to_string(path).with_context(|| {
            let names: Vec<&str> = crate::sim::scenario::BUILT_IN
                .iter()
                .map(|(n, _)| *n)
                .collect();
            format!(
                "cannot read scenario {} (built-in scenarios: {})",
                path.display(),
                names.join(", ")
            )
        })?,
    };
    let file: ScenarioFile =
        toml::from_str(&text).map_err(|e| config::parse_error(path, &text, &e))?;
    let sim = Sim::new(file).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(SimBroker::new(sim))
}

/// One breaker per scenario breaker, guarding the queue whose consumer uses it.
fn demo_breakers(file: &ScenarioFile) -> Vec<BreakerConfig> {
    file.breakers
        .iter()
        .map(|b| BreakerConfig {
            name: b.name.clone(),
            queue: file
                .consumers
                .iter()
                .find(|c| c.breaker.as_deref() == Some(b.name.as_str()))
                .map(|c| c.queue.clone()),
            source: BreakerSourceConfig::Demo {
                demo: b.name.clone(),
            },
        })
        .collect()
}

fn config_has_refresh(config: &Config) -> bool {
    let d = RefreshConfig::default();
    let r = &config.refresh;
    r.attributes_secs != d.attributes_secs
        || r.metrics_secs != d.metrics_secs
        || r.breakers_secs != d.breakers_secs
        || r.discovery_secs != d.discovery_secs
        || r.max_concurrency != d.max_concurrency
        || r.max_requests_per_second != d.max_requests_per_second
        || r.others_secs != d.others_secs
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn places(args: &[&str], config: &str) -> Vec<(Option<String>, Option<String>)> {
        let cli = Cli::try_parse_from(std::iter::once("lazysqs").chain(args.iter().copied()))
            .expect("arguments");
        let config = Config::parse(config, Path::new("c.toml")).expect("config");
        cli.aws_places(&config)
            .into_iter()
            .map(|o| (o.profile, o.region))
            .collect()
    }

    fn p(profile: Option<&str>, region: Option<&str>) -> (Option<String>, Option<String>) {
        (profile.map(String::from), region.map(String::from))
    }

    #[test]
    fn every_profile_in_every_region_and_the_command_line_replaces_the_config() {
        assert_eq!(places(&[], ""), vec![p(None, None)]);
        assert_eq!(
            places(&["--region", "us-east-1", "--region", "eu-west-1"], ""),
            vec![p(None, Some("us-east-1")), p(None, Some("eu-west-1"))]
        );
        assert_eq!(
            places(
                &["--profile", "a", "--profile", "b", "--region", "eu-west-1"],
                ""
            ),
            vec![
                p(Some("a"), Some("eu-west-1")),
                p(Some("b"), Some("eu-west-1"))
            ]
        );
        let config = "[aws]\nprofile = \"a\"\nprofiles = [\"b\", \"a\"]\nregions = [\"us-east-1\", \"eu-west-1\"]\n";
        assert_eq!(
            places(&[], config),
            vec![
                p(Some("a"), Some("us-east-1")),
                p(Some("a"), Some("eu-west-1")),
                p(Some("b"), Some("us-east-1")),
                p(Some("b"), Some("eu-west-1")),
            ]
        );
        assert_eq!(
            places(&["--region", "ap-south-1"], config),
            vec![
                p(Some("a"), Some("ap-south-1")),
                p(Some("b"), Some("ap-south-1"))
            ]
        );
        assert!(
            Cli::try_parse_from(["lazysqs", "--region", "EU"]).is_err(),
            "a region that is not one is refused"
        );
    }
}
