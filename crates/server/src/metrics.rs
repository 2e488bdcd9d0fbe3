//! Request metrics in the Prometheus text exposition format (version 0.0.4),
//! written by hand: a handful of counters and one histogram do not need a
//! metrics framework.
//!
//! Requests are labelled by method, matched route (the route template such as
//! `/api/v1/events/{ev_id}`, never the raw path, so label cardinality stays
//! bounded) and status.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most distinct `parameter` labels of `ntsb_validation_failures_total`.
const MAX_VALIDATION_LABELS: usize = 64;

/// Upper bounds of the latency histogram buckets, seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    method: String,
    route: String,
    status: u16,
}

/// One model's scoring: calls (a histogram of their latency) and items scored.
#[derive(Debug, Default)]
struct Prediction {
    calls: Series,
    items: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, Default)]
struct Series {
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
}

/// The server's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    series: RwLock<HashMap<Key, Arc<Series>>>,
    /// Rate-limit decisions by (tier, decision).
    limits: RwLock<BTreeMap<(&'static str, &'static str), Arc<AtomicU64>>>,
    /// Scoring calls by model: items scored and call latency.
    predictions: RwLock<BTreeMap<&'static str, Arc<Prediction>>>,
    /// Requests refused for invalid input, by the parameter at fault.
    validation: RwLock<BTreeMap<String, Arc<AtomicU64>>>,
    in_flight: AtomicI64,
    started: Instant,
    started_unix: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Metrics {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        Metrics {
            series: RwLock::new(HashMap::new()),
            limits: RwLock::new(BTreeMap::new()),
            predictions: RwLock::new(BTreeMap::new()),
            validation: RwLock::new(BTreeMap::new()),
            in_flight: AtomicI64::new(0),
            started: Instant::now(),
            started_unix,
        }
    }

    /// A request started; the guard marks it finished when dropped.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Records a finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.series_for(method, route, status).observe(elapsed);
    }

    /// Records a rate-limit decision for a caller of `tier` (`anonymous`,
    /// `free`, `premium`, `admin`): `allowed`, `rate_limited` or `quota_exceeded`.
    pub(crate) fn rate_limit(&self, tier: &'static str, decision: &'static str) {
        let key = (tier, decision);
        let counter = self.limits.read().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        let counter = counter
            .unwrap_or_else(|| self.limits.write().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone());
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a request refused for invalid input at `parameter` (a query
    /// parameter, a body field, `content-type`). Parameter names can come from
    /// the client (an unknown parameter is named), so at most
    /// [`MAX_VALIDATION_LABELS`] distinct ones get a series; later ones count as `other`.
    pub(crate) fn validation_failure(&self, parameter: &str) {
        let found = self.validation.read().unwrap_or_else(|p| p.into_inner()).get(parameter).cloned();
        let counter = found.unwrap_or_else(|| {
            let mut map = self.validation.write().unwrap_or_else(|p| p.into_inner());
            let label =
                if map.len() < MAX_VALIDATION_LABELS || map.contains_key(parameter) { parameter } else { "other" };
            map.entry(label.to_string()).or_default().clone()
        });
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a scoring call of `model` over `items` events that took `elapsed`
    /// (`ok`: it answered; otherwise it failed and scored nothing).
    pub(crate) fn prediction(&self, model: &'static str, items: u64, elapsed: Duration, ok: bool) {
        let found = self.predictions.read().unwrap_or_else(|p| p.into_inner()).get(model).cloned();
        let p = found.unwrap_or_else(|| {
            self.predictions.write().unwrap_or_else(|p| p.into_inner()).entry(model).or_default().clone()
        });
        p.calls.observe(elapsed);
        if ok {
            p.items.fetch_add(items, Ordering::Relaxed);
        } else {
            p.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn series_for(&self, method: &str, route: &str, status: u16) -> Arc<Series> {
        let key = Key { method: method.to_string(), route: route.to_string(), status };
        if let Some(s) = self.series.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return s.clone();
        }
        self.series.write().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone()
    }

    /// Requests being served right now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The exposition text. `extra` holds gauges computed by the caller at scrape
    /// time (`name`, help, value).
    pub fn render(&self, extra: &[Family]) -> String {
        let mut out = String::with_capacity(4096);
        let mut series: Vec<(Key, Arc<Series>)> =
            self.series.read().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));

        out.push_str("# HELP ntsb_http_requests_total HTTP requests answered, by method, matched route and status.\n");
        out.push_str("# TYPE ntsb_http_requests_total counter\n");
        for (k, s) in &series {
            let _ = writeln!(out, "ntsb_http_requests_total{{{}}} {}", labels(k), s.count.load(Ordering::Relaxed));
        }

        out.push_str("# HELP ntsb_http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE ntsb_http_request_duration_seconds histogram\n");
        for (k, s) in &series {
            s.write(&mut out, "ntsb_http_request_duration_seconds", &labels(k));
        }

        out.push_str("# HELP ntsb_ratelimit_decisions_total Rate-limit decisions, by caller tier and decision (allowed, rate_limited, quota_exceeded).\n");
        out.push_str("# TYPE ntsb_ratelimit_decisions_total counter\n");
        for ((tier, decision), n) in self.limits.read().unwrap_or_else(|p| p.into_inner()).iter() {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(out, "ntsb_ratelimit_decisions_total{{tier=\"{tier}\",decision=\"{decision}\"}} {n}");
        }

        out.push_str("# HELP ntsb_validation_failures_total Requests refused for invalid input (400, 415), by the parameter or field at fault.\n");
        out.push_str("# TYPE ntsb_validation_failures_total counter\n");
        for (parameter, n) in self.validation.read().unwrap_or_else(|p| p.into_inner()).iter() {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(out, "ntsb_validation_failures_total{{parameter=\"{}\"}} {n}", escape(parameter));
        }

        let predictions: Vec<(&'static str, Arc<Prediction>)> =
            self.predictions.read().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (*k, v.clone())).collect();
        out.push_str("# HELP ntsb_ml_predictions_total Events scored, by model.\n");
        out.push_str("# TYPE ntsb_ml_predictions_total counter\n");
        for (model, p) in &predictions {
            let _ = writeln!(out, "ntsb_ml_predictions_total{{model=\"{model}\"}} {}", p.items.load(Ordering::Relaxed));
        }
        out.push_str("# HELP ntsb_ml_prediction_errors_total Scoring calls that failed (unknown event, store error), by model.\n");
        out.push_str("# TYPE ntsb_ml_prediction_errors_total counter\n");
        for (model, p) in &predictions {
            let n = p.errors.load(Ordering::Relaxed);
            let _ = writeln!(out, "ntsb_ml_prediction_errors_total{{model=\"{model}\"}} {n}");
        }
        out.push_str(
            "# HELP ntsb_ml_prediction_duration_seconds Time of one scoring call (one event or one batch), by model.\n",
        );
        out.push_str("# TYPE ntsb_ml_prediction_duration_seconds histogram\n");
        for (model, p) in &predictions {
            p.calls.write(&mut out, "ntsb_ml_prediction_duration_seconds", &format!("model=\"{model}\""));
        }

        gauge(&mut out, "ntsb_http_requests_in_flight", "HTTP requests being answered.", self.in_flight() as f64);
        out.push_str("# HELP ntsb_build_info Version of the running server.\n# TYPE ntsb_build_info gauge\n");
        let _ = writeln!(out, "ntsb_build_info{{version=\"{}\"}} 1", escape(env!("CARGO_PKG_VERSION")));
        gauge(
            &mut out,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch.",
            self.started_unix,
        );
        gauge(
            &mut out,
            "ntsb_uptime_seconds",
            "Seconds since the server started.",
            self.started.elapsed().as_secs_f64(),
        );
        for family in extra {
            family.write(&mut out);
        }
        out
    }
}

impl Series {
    fn observe(&self, elapsed: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The `_bucket`, `_sum` and `_count` lines of histogram `name` with labels `l`.
    fn write(&self, out: &mut String, name: &str, l: &str) {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{l},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{l}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{l}}} {cumulative}");
    }
}

/// Decrements the in-flight gauge when the request ends (even if it panicked).
pub(crate) struct InFlight(Arc<Metrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A metric family gathered at scrape time (store pool, cache, ingest ledger,
/// index): a name, help text, type and labelled samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    /// A gauge (a value that goes up and down).
    pub fn gauge(name: &'static str, help: &'static str) -> Family {
        Family { name, help, kind: "gauge", samples: Vec::new() }
    }

    /// A counter (a total that only grows while the process or store lives).
    pub fn counter(name: &'static str, help: &'static str) -> Family {
        Family { name, help, kind: "counter", samples: Vec::new() }
    }

    /// Adds a sample with `labels` (name, value).
    pub fn sample(mut self, labels: &[(&'static str, &str)], value: f64) -> Family {
        self.samples.push((labels.iter().map(|(k, v)| (*k, v.to_string())).collect(), value));
        self
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {}", self.name, self.help, self.name, self.kind);
        for (labels, value) in &self.samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{} {value}", self.name);
            } else {
                let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                let _ = writeln!(out, "{}{{{}}} {value}", self.name, l.join(","));
            }
        }
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
}

fn labels(k: &Key) -> String {
    format!("method=\"{}\",route=\"{}\",status=\"{}\"", escape(&k.method), escape(&k.route), k.status)
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::new();
        m.observe("GET", "/a", 200, Duration::from_micros(300));
        m.observe("GET", "/a", 200, Duration::from_millis(30));
        m.observe("GET", "/a", 200, Duration::from_secs(60));
        let text = m.render(&[]);
        assert!(text.contains("ntsb_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 3"), "{text}");
        assert!(text.contains("le=\"0.0005\"} 1"), "{text}");
        assert!(text.contains("le=\"0.05\"} 2"), "{text}");
        assert!(text.contains("le=\"10\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3"), "{text}");
    }

    #[test]
    fn families_render_labels_and_types() {
        let f = Family::counter("ntsb_x_total", "Things.").sample(&[("kind", "a\"b")], 2.0).sample(&[], 1.0);
        let text = Metrics::new().render(&[f]);
        assert!(
            text.contains("# TYPE ntsb_x_total counter\nntsb_x_total{kind=\"a\\\"b\"} 2\nntsb_x_total 1\n"),
            "{text}"
        );
    }

    #[test]
    fn validation_failures_are_counted_by_parameter_with_bounded_labels() {
        let m = Metrics::new();
        m.validation_failure("from");
        m.validation_failure("from");
        m.validation_failure("we\"ird");
        for i in 0..200 {
            m.validation_failure(&format!("junk{i}"));
        }
        m.validation_failure("from");
        let text = m.render(&[]);
        assert!(text.contains("ntsb_validation_failures_total{parameter=\"from\"} 3"), "{text}");
        assert!(text.contains("ntsb_validation_failures_total{parameter=\"we\\\"ird\"} 1"), "{text}");
        let series = text.lines().filter(|l| l.starts_with("ntsb_validation_failures_total{")).count();
        assert_eq!(series, MAX_VALIDATION_LABELS + 1, "labels are bounded, the rest is `other`");
        assert!(text.contains("ntsb_validation_failures_total{parameter=\"other\"} 138"), "{text}");
    }

    #[test]
    fn rate_limit_decisions_and_predictions_are_counted_by_label() {
        let m = Metrics::new();
        m.rate_limit("free", "allowed");
        m.rate_limit("free", "allowed");
        m.rate_limit("anonymous", "quota_exceeded");
        m.prediction("fatal", 100, Duration::from_millis(3), true);
        m.prediction("fatal", 1, Duration::from_millis(30), false);
        let text = m.render(&[]);
        assert!(text.contains("ntsb_ratelimit_decisions_total{tier=\"free\",decision=\"allowed\"} 2\n"), "{text}");
        assert!(text.contains("{tier=\"anonymous\",decision=\"quota_exceeded\"} 1\n"), "{text}");
        assert!(text.contains("ntsb_ml_predictions_total{model=\"fatal\"} 100\n"), "{text}");
        assert!(text.contains("ntsb_ml_prediction_errors_total{model=\"fatal\"} 1\n"), "{text}");
        assert!(
            text.contains("ntsb_ml_prediction_duration_seconds_bucket{model=\"fatal\",le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("ntsb_ml_prediction_duration_seconds_count{model=\"fatal\"} 2\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
