//! `ntsb ingest PATH...`: load files and directories, print a summary table.

use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ntsb_load::{LoadOptions, Loader};

use super::{Schema, open_index, open_store};
use crate::cli::IngestArgs;
use crate::config::Config;
use crate::output;

pub fn run(config: &Config, args: IngestArgs) -> Result<ExitCode> {
    if config.demo {
        bail!("--demo: the demo store holds only the synthetic sample; load it with `ntsb demo`");
    }
    if let Some(topic) = &args.from_kafka {
        return from_kafka(config, topic, &args);
    }
    for path in &args.paths {
        if !path.exists() {
            bail!("{}: no such file or directory", path.display());
        }
    }
    let store = open_store(config, Schema::Migrate)?;
    let index = open_index(config)?;
    let mut options = LoadOptions::new(config.rejects_dir());
    options.batch_size = args.batch_size as usize;
    options.forced_format = args.format.clone();
    let loader = Loader::new(store.as_ref(), Some(&index), options);
    let mut progress = output::progress();
    let report = loader.load_paths(&args.paths, progress.as_mut())?;
    drop(progress);
    if args.json {
        output::print_report_json(&report)?;
    } else {
        output::print_report(&report)?;
    }
    Ok(if report.failed() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// `ntsb ingest --from-kafka TOPIC`: consumes event records until the topic is
/// drained (`--until-idle`) or until interrupted.
fn from_kafka(config: &Config, topic: &str, args: &IngestArgs) -> Result<ExitCode> {
    if config.kafka.kafka_brokers.is_empty() {
        bail!("--from-kafka needs --kafka-brokers HOST:PORT (or NTSB_KAFKA_BROKERS)");
    }
    let kafka = ntsb_kafka::KafkaConfig::new(config.kafka.kafka_brokers.clone())?;
    let store = open_store(config, Schema::Migrate)?;
    let index = Arc::new(open_index(config)?);
    let metrics = Arc::new(ntsb_kafka::KafkaMetrics::default());
    let consumer = ntsb_kafka::Consumer::new(store, Some(index), kafka, metrics.clone());
    let options =
        ntsb_kafka::ConsumeOptions { until_idle: args.until_idle, ..ntsb_kafka::ConsumeOptions::until_idle(topic) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let metrics_file = config.kafka.kafka_metrics_file.clone();
    let outcome = runtime.block_on(async {
        if let Some(path) = metrics_file.clone() {
            let metrics = metrics.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    write_metrics(&path, &metrics);
                }
            });
        }
        tokio::select! {
            report = consumer.run(&options) => Some(report),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    if let Some(path) = &metrics_file {
        write_metrics(path, &metrics);
    }
    let report = match outcome {
        Some(report) => report.with_context(|| format!("consuming the Kafka topic {topic}"))?,
        None => {
            eprintln!(
                "ntsb: interrupted; {} message(s) committed ({} rejected); the next run resumes after them",
                metrics.consumed_total(),
                metrics.rejected_total()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    if args.json {
        output::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::print_tables(&report.tables)?;
    crate::output::out!(
        "{} message(s) from {topic} in {} batch(es): {} event(s) written, {} rejected (see `ntsb loads` and the rejects of each load); full-text index: {} change(s)",
        report.messages,
        report.batches,
        report.events,
        report.rejected,
        report.indexed
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the consumer's counters for node-exporter's textfile collector
/// (a temporary file renamed over the old one, so a scrape never reads half).
fn write_metrics(path: &std::path::Path, metrics: &ntsb_kafka::KafkaMetrics) {
    let tmp = path.with_extension("tmp");
    let result = std::fs::write(&tmp, metrics.render()).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), cause = %e, "writing the kafka metrics file");
    }
}
