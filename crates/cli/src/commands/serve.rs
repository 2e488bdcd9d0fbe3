//! `ntsb serve`: the HTTP API over the configured store (or, with `--demo`, the
//! demo store, loaded with the synthetic sample first when it is empty, so one
//! command serves the product on a fresh machine).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ntsb_server::{AppState, ServerOptions};
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;

use super::{Schema, open_index, open_store};
use crate::cli::{DemoArgs, GlobalArgs, ServeArgs};
use crate::config::{Config, Database, LogFormat};
use crate::output::out;

/// Events in the demo sample `serve --demo` loads into an empty demo store.
const DEMO_EVENTS: u64 = 5_000;
/// Seed of that sample (the `ntsb demo` default).
const DEMO_SEED: u64 = 42;
/// How often the analytical projection looks for changes in the store's change log.
const ANALYTICS_POLL: Duration = Duration::from_millis(200);

/// Production mode logs JSON unless a format was chosen. The level stays the
/// documented default (`warn`) unless one was chosen: `--log-level info` logs
/// every request.
pub fn adjust_config(config: &mut Config, global: &GlobalArgs, args: &ServeArgs) {
    if args.production && !global.is_given("log_format") {
        config.log_format = LogFormat::Json;
    }
}

/// The embedding model and the vectors for dense and hybrid search, when
/// `--embedding-model` is set and `ntsb index embed` has written vectors.
fn open_dense(config: &Config) -> Result<Option<Arc<ntsb_retrieval::Retriever>>> {
    let Some(model) = &config.embedding_model else { return Ok(None) };
    let dir = config.vectors_dir();
    let retriever = ntsb_retrieval::Retriever::open(model, &dir).with_context(|| {
        format!("loading the embedding model {} and the vectors in {}", model.display(), dir.display())
    })?;
    match retriever {
        Some(r) => {
            let s = r.stats();
            tracing::info!(
                events = s.events,
                chunks = s.chunks,
                memory_bytes = s.memory_bytes,
                "sentence vectors loaded"
            );
            Ok(Some(Arc::new(r)))
        }
        None => {
            tracing::warn!(
                dir = %dir.display(),
                "no sentence vectors yet (run `ntsb index embed`): dense and hybrid search answer by BM25"
            );
            Ok(None)
        }
    }
}

pub fn run(config: &Config, args: ServeArgs) -> Result<ExitCode> {
    let tls = tls_options(&args)?;
    if config.demo && demo_store_is_empty(config)? {
        eprintln!("ntsb: the demo store is empty; loading the synthetic demo sample first");
        super::demo::run(config, DemoArgs { events: DEMO_EVENTS, seed: DEMO_SEED, json: false })?;
    }
    // The demo store is ours to migrate; a real one is migrated by `ntsb db migrate`.
    let store = open_store(config, if config.demo { Schema::Migrate } else { Schema::RequireLatest })?;
    let index = Arc::new(open_index(config)?);
    let synced = index.sync(store.as_ref()).context("bringing the search index up to date")?;
    index.release_writer();
    if synced.indexed + synced.removed > 0 {
        tracing::info!(indexed = synced.indexed, removed = synced.removed, "search index synced");
    }
    // The live change feed (not on the ML tier, which serves no stream route).
    let feed = match args.role {
        ntsb_server::Role::Ml => None,
        _ => Some(
            ntsb_feed::Feed::new(store.clone(), store.clone(), feed_config(&args)).context("starting the live feed")?,
        ),
    };
    if store.as_postgres().is_some() {
        // Other processes (replicas, `ntsb ingest`) write this database: follow
        // them, and wake the feed on their change notifications (it polls too).
        let wake = feed.clone();
        let on_change: super::follow::OnChange = Box::new(move || {
            if let Some(feed) = &wake {
                feed.wake();
            }
        });
        super::follow::spawn(store.clone(), index.clone(), on_change).context("starting the index follower")?;
    }
    super::documents::spawn(store.clone()).context("starting the event document builder")?;
    let models = super::ml::open_registry(config);
    let redis = match &config.redis_url {
        Some(url) => {
            let link = ntsb_server::redis_link::RedisLink::new(url.expose()).map_err(anyhow::Error::msg)?;
            tracing::info!(redis = %link.label(), "using redis for the shared cache and rate-limit counters");
            Some(Arc::new(link))
        }
        None => None,
    };
    // Rate-limit counters in Redis are per deployment: its replicas share the store's id.
    let counter_namespace = store.store_id().context("reading the store id")?.unwrap_or_default();
    let auth = super::account::engine(config, store.clone(), args.production, redis.clone(), &counter_namespace)?;
    // Statistics and totals from memory once the projection is built (the store
    // answers meanwhile); it follows the store's change log like the index.
    let analytics = args.analytics.then(|| ntsb_analytics::Analytics::new(store.clone(), store.clone()));
    let _analytics_follower = analytics.as_ref().map(|a| a.follow(ANALYTICS_POLL));
    let dense = open_dense(config)?;
    let publisher_store = store.clone();
    let mut state = AppState::from_backend(store, index);
    if let Some(retriever) = dense {
        state = state.with_dense(retriever);
    }
    if let Some(engine) = analytics {
        state = state.with_analytics(engine);
    }
    let mut state = state.with_models(models.clone()).with_cache_bytes(args.cache_mb * 1024 * 1024).with_auth(auth);
    if let Some(link) = redis {
        state = state.with_redis(link);
    }
    if let Some(feed) = &feed {
        let options = ntsb_server::LiveOptions {
            heartbeat: Duration::from_secs(args.feed_heartbeat),
            ..ntsb_server::LiveOptions::default()
        };
        state = state.with_live(ntsb_server::Live::new(feed.clone(), options));
    }
    // The change feed to Kafka (one replica at a time, by the store's lease).
    let publisher = match (&feed, config.kafka.kafka_brokers.is_empty()) {
        (Some(_), false) => {
            let kafka = ntsb_kafka::KafkaConfig::new(config.kafka.kafka_brokers.clone())?;
            let options = ntsb_kafka::PublishOptions {
                partitions: i32::try_from(config.kafka.kafka_partitions).unwrap_or(i32::MAX),
                lease: Duration::from_secs(config.kafka.kafka_lease),
                ..ntsb_kafka::PublishOptions::new(&config.kafka.kafka_topic)
            };
            let metrics = Arc::new(ntsb_kafka::KafkaMetrics::default());
            let rendered = metrics.clone();
            state = state.with_extra_metrics(Arc::new(move || rendered.render()));
            Some(ntsb_kafka::Publisher::new(publisher_store.clone(), kafka, options, metrics)?)
        }
        _ => None,
    };
    let opts = ServerOptions {
        cors_origins: args.cors_origins.iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect(),
        production: args.production,
        request_timeout: Duration::from_secs(args.request_timeout),
        trusted_proxies: args.trusted_proxies.clone(),
        unlimited_loopback: config.demo,
        role: args.role,
        tls,
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections_per_ip: usize::try_from(args.max_connections_per_ip).unwrap_or(usize::MAX),
        dashboard: !args.no_dashboard,
        ..ServerOptions::default()
    };
    for problem in config.auth.engine.quotas.inconsistencies() {
        tracing::warn!("{problem}");
    }
    if let Some(tls) = &opts.tls {
        // Refuse unusable files before anything is served, naming the file.
        ntsb_server::tls::CertReloader::load(tls.clone()).context("--tls-cert/--tls-key")?;
    }
    let scheme = if opts.tls.is_some() { "https" } else { "http" };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Engine calls are bounded by the server's own semaphore; this only caps
        // other blocking work (exports, index refreshes).
        .max_blocking_threads(64)
        // Fairness under overload: with thousands of connections ready at once a
        // worker's local queue (256 tasks) overflows, and tokio moves the oldest
        // half to the global queue, which a worker looks at only every 61 tasks by
        // default; those connections then wait several times longer than the rest
        // (10,000 connections: p95 1.2 s at p50 0.39 s). Looking at it first on
        // every task serves connections about in arrival order (p95 0.38–0.43 s,
        // same throughput; docs/PERFORMANCE.md).
        .global_queue_interval(1)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        tokio::spawn(super::ml::watch_models(models));
        if let Some(feed) = &feed {
            feed.start();
        }
        let listener =
            ntsb_server::bind(args.listen).with_context(|| format!("--listen {}: cannot listen", args.listen))?;
        let addr = listener.local_addr()?;
        let dashboard = if args.no_dashboard || args.role == ntsb_server::Role::Ml {
            String::new()
        } else {
            format!("dashboard at {scheme}://{addr}/; ")
        };
        out!(
            "ntsb: serving {} on {scheme}://{addr} ({dashboard}API reference at {scheme}://{addr}/docs; role {})",
            store_label(config),
            args.role.as_str()
        )?;
        let publishing = publisher.map(|p| p.spawn());
        let served =
            ntsb_server::serve_on(listener, state, opts, ntsb_server::shutdown_signal()).await.context("serving");
        if let Some(handle) = publishing {
            // Finish the round in progress and give the lease up for the next replica.
            handle.stop().await;
        }
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The feed engine's settings from `serve`'s.
fn feed_config(args: &ServeArgs) -> ntsb_feed::FeedConfig {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    ntsb_feed::FeedConfig {
        buffer: n(args.feed_buffer),
        max_subscribers: n(args.feed_max_subscribers),
        max_per_user: n(args.feed_max_per_user),
        ..ntsb_feed::FeedConfig::default()
    }
}

fn store_label(config: &Config) -> String {
    match &config.database {
        _ if config.demo => "the synthetic demo store".to_string(),
        Database::Sqlite(path) => format!("the store {}", path.display()),
        Database::Postgres(pg) => {
            let schema = pg.schema.as_deref().map(|s| format!(" (schema {s})")).unwrap_or_default();
            format!("the store {}{schema}", ntsb_store::postgres::redact(&pg.url))
        }
    }
}

/// Whether the demo store holds nothing yet (or does not exist).
fn demo_store_is_empty(config: &Config) -> Result<bool> {
    let Database::Sqlite(path) = &config.database else {
        return Ok(false);
    };
    if !path.exists() {
        return Ok(true);
    }
    let store = SqliteStore::open(path).with_context(|| format!("opening the database {}", path.display()))?;
    if store.current_version()? < SqliteStore::LATEST_VERSION {
        store.migrate()?;
    }
    Ok(store.content_kind()?.is_none())
}

/// The HTTPS settings: a certificate and its key go together (from any layer:
/// flags, variables or the file), and the redirect listener needs them.
fn tls_options(args: &ServeArgs) -> Result<Option<ntsb_server::TlsOptions>> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(ntsb_server::TlsOptions {
            redirect_listen: args.http_redirect_listen,
            ..ntsb_server::TlsOptions::new(cert, key)
        })),
        (Some(_), None) | (None, Some(_)) => bail!("--tls-cert and --tls-key go together: give both or neither"),
        (None, None) if args.http_redirect_listen.is_some() => {
            bail!("--http-redirect-listen redirects to HTTPS: it needs --tls-cert and --tls-key")
        }
        (None, None) => Ok(None),
    }
}
