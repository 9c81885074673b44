//! `kubepulse doctor`: which of the data a model needs a Prometheus holds, and what the model will miss.

use std::path::PathBuf;

use ::collect::doctor::{BLIND_RULE, DoctorOptions, LabelSourceCheck, ModelNeeds, doctor};
use anyhow::Context;
use cluster::{KubeLabelOptions, KubeSource, connect_and_read_labels};
use learn::bundle::ModelBundle;

use super::collect::{KubeArgs, PromArgs, load_queries};
use crate::parse;

/// Arguments of `kubepulse doctor`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubepulse doctor --prometheus http://prometheus:9090
  kubepulse doctor --prometheus http://prometheus:9090 --model /models/current.kpm --json > doctor.json
  kubepulse doctor --prometheus http://prometheus:9090 --labels-from kube --context staging

For every exporter series the query set reads: present or not, series count, scrape interval, history;
for every column, the targets it answers for; which label sources are readable; which model columns and
features will be empty and which exporters to install.

Exit status 1 when the model would be blind: fewer than half of its metric columns answer for at least
one target, or no target answers any of them.")]
pub struct Args {
    /// Boxed to keep the subcommand enum small.
    #[command(flatten)]
    pub inner: Box<DoctorArgs>,
}

/// The options of `kubepulse doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub prom: PromArgs,
    /// Model bundle to judge against (default: the model embedded in the binary).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Query set TOML (default: the built-in set, written out in config/queries.toml).
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// Evaluation time: unix seconds, RFC 3339, `now` or `now-1h` (default: the server's now).
    #[arg(long, value_parser = parse::when)]
    pub at: Option<i64>,
    /// How far back to look for each series' oldest sample.
    #[arg(long, default_value = "30d", value_parser = parse::duration_secs)]
    pub history: i64,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Print the report as JSON (the same fields as the text).
    #[arg(long)]
    pub json: bool,
}

/// Runs `kubepulse doctor`: prints the report on stdout; fails when the model would be blind.
pub fn run(args: Args) -> anyhow::Result<()> {
    let args = *args.inner;
    let queries = load_queries(args.queries.as_ref())?;
    let bundle = match &args.model {
        Some(path) => {
            ModelBundle::load(path).with_context(|| format!("--model {}", path.display()))?
        }
        None => ModelBundle::embedded().context("the embedded model")?,
    };
    let model = ModelNeeds::of(&bundle);
    let end = args.at.unwrap_or_else(|| parse::when("now").unwrap_or(0));
    let label_sources = kube_sources(&args.kube, end - args.history, end, &queries, &model);
    let opts = DoctorOptions {
        queries,
        model,
        at: args.at.map(|t| t as f64),
        history_secs: args.history,
        label_sources,
    };
    let client = ::collect::prom::PromClient::new(args.prom.config()?)?;
    let report = crate::runtime::block_on(doctor(&client, &opts))??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    if report.model.blind {
        anyhow::bail!(
            "the model would be blind: {} of its {} columns have data ({BLIND_RULE})",
            report.model.metrics_with_data,
            report.model.metrics
        );
    }
    Ok(())
}

/// Checks each asked Kubernetes label source by reading it over `[start, end]`; the others are "not checked".
fn kube_sources(
    kube: &KubeArgs,
    start: i64,
    end: i64,
    queries: &::collect::queries::QuerySet,
    model: &ModelNeeds,
) -> Vec<LabelSourceCheck> {
    let asked = kube.sources();
    [KubeSource::Events, KubeSource::ChaosMesh]
        .into_iter()
        .map(|source| {
            if !asked.contains(&source) {
                return LabelSourceCheck {
                    source: source.name().into(),
                    readable: None,
                    detail: format!("not checked (--labels-from {})", source.name()),
                };
            }
            let opts = KubeLabelOptions {
                sources: vec![source],
                start,
                end,
                step_secs: model.step_secs.max(1),
                target: queries.target.clone(),
            };
            let read = crate::runtime::block_on(connect_and_read_labels(&kube.connection(), &opts));
            match read {
                Ok(Ok(labels)) => LabelSourceCheck {
                    source: source.name().into(),
                    readable: Some(
                        source == KubeSource::Events
                            || labels.chaos_missing.len() < cluster::permissions::CHAOS_KINDS.len(),
                    ),
                    detail: match source {
                        KubeSource::Events => format!(
                            "{} events listed, {} incident(s){}",
                            labels.event_stats.listed,
                            labels.events.len(),
                            labels.event_stats.oldest.map_or(String::new(), |o| format!(
                                ", oldest {} (the API server keeps events for its --event-ttl)",
                                learn::timestamp::format_rfc3339(o)
                            ))
                        ),
                        KubeSource::ChaosMesh => format!(
                            "{} experiment(s), {} incident(s){}",
                            labels.experiments,
                            labels.chaos.len(),
                            if labels.chaos_missing.is_empty() {
                                String::new()
                            } else {
                                format!(", not installed: {}", labels.chaos_missing.join(", "))
                            }
                        ),
                    },
                },
                Ok(Err(e)) => LabelSourceCheck {
                    source: source.name().into(),
                    readable: Some(false),
                    detail: e.to_string(),
                },
                Err(e) => LabelSourceCheck {
                    source: source.name().into(),
                    readable: Some(false),
                    detail: format!("{e:#}"),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::collect::tests::forbidding_apiserver;

    fn kube_args(argv: &[&str]) -> KubeArgs {
        let cli = <crate::Cli as clap::Parser>::try_parse_from(argv).unwrap();
        match cli.command {
            crate::Command::Doctor(a) => a.inner.kube,
            _ => unreachable!(),
        }
    }

    #[test]
    fn kubernetes_label_sources_are_checked_only_when_asked_and_a_denial_is_reported() {
        let queries = ::collect::queries::QuerySet::builtin().unwrap();
        let model = ModelNeeds::of(&ModelBundle::embedded().unwrap());
        let base = ["kubepulse", "doctor", "--prometheus", "http://127.0.0.1:9"];
        let unasked = kube_sources(&kube_args(&base), 0, 3600, &queries, &model);
        assert_eq!(unasked.len(), 2);
        assert!(unasked.iter().all(|l| l.readable.is_none()), "{unasked:?}");

        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n",
                forbidding_apiserver()
            ),
        )
        .unwrap();
        let mut argv = base.to_vec();
        argv.extend([
            "--labels-from",
            "kube-events",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]);
        let checked = kube_sources(&kube_args(&argv), 0, 3600, &queries, &model);
        assert_eq!(checked[0].source, "kube-events");
        assert_eq!(checked[0].readable, Some(false), "{checked:?}");
        assert!(
            checked[0].detail.contains("list events") && checked[0].detail.contains("403"),
            "{checked:?}"
        );
        assert_eq!(checked[1].readable, None, "chaos-mesh was not asked");
    }
}
