//! Metric families made at scrape time, from values the process keeps
//! anyway (server health, idle pool connections, plugin counters,
//! certificate dates, reload results): nothing is updated per request for
//! them, and a removed backend's series disappears with it.

use prometheus::core::Metric as _;
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use prometheus::Histogram;

/// One family being filled.
pub struct Family(MetricFamily);

impl Family {
    pub fn gauge(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::GAUGE)
    }

    pub fn counter(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::COUNTER)
    }

    pub fn histogram(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::HISTOGRAM)
    }

    fn new(name: &str, help: &str, kind: MetricType) -> Family {
        let mut family = MetricFamily::default();
        family.set_name(name.to_owned());
        family.set_help(help.to_owned());
        family.set_field_type(kind);
        Family(family)
    }

    /// One sample of a gauge or counter family.
    pub fn add(&mut self, labels: &[(&str, &str)], value: f64) {
        let mut metric = proto::Metric::from_label(label_pairs(labels));
        match self.0.get_field_type() {
            MetricType::COUNTER => {
                let mut c = proto::Counter::default();
                c.set_value(value);
                metric.set_counter(c);
            }
            _ => {
                let mut g = proto::Gauge::default();
                g.set_value(value);
                metric.set_gauge(g);
            }
        }
        self.0.mut_metric().push(metric);
    }

    /// A histogram kept elsewhere, under these labels.
    pub fn add_histogram(&mut self, labels: &[(&str, &str)], histogram: &Histogram) {
        let mut metric = histogram.metric();
        metric.set_label(label_pairs(labels));
        self.0.mut_metric().push(metric);
    }

    pub fn done(self) -> MetricFamily {
        self.0
    }
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect()
}
