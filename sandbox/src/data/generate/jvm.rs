//! APM timeslice `Metric`s of the JVM applications: garbage collection (ms of pause per
//! minute), heap (MB) and thread counts. In production the inventory worker's heap fills up
//! over the last hours, so its old generation collects more and more; checkout threads block
//! on payments after the bad release.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::{
    AppInstance, BAD_RELEASE_AGO_MS, INVENTORY_HEAP_PRESSURE_MS, SAMPLE_SPACING_MS, Texts, every, round_to,
};

/// How one JVM behaves when healthy.
struct JvmProfile {
    heap_max_mb: f64,
    young_gc_ms: (f64, f64),
    threads: (i64, i64),
    runnable: (i64, i64),
}

fn profile(app: &AppInstance) -> JvmProfile {
    if app.spec.name == "inventory-worker" {
        JvmProfile { heap_max_mb: 1024.0, young_gc_ms: (20.0, 60.0), threads: (40, 50), runnable: (6, 12) }
    } else {
        JvmProfile { heap_max_mb: 2048.0, young_gc_ms: (30.0, 90.0), threads: (95, 110), runnable: (15, 25) }
    }
}

/// One sample of every metric of one JVM.
struct JvmReading {
    young_gc: f64,
    old_gc: f64,
    heap_used: f64,
    heap_max: f64,
    threads: i64,
    blocked: i64,
    runnable: i64,
}

impl JvmReading {
    fn timeslices(&self) -> [(&'static str, f64); 8] {
        [
            ("GC/G1 Young Generation", self.young_gc),
            ("GC/G1 Old Generation", self.old_gc),
            ("Memory/Heap/Used", self.heap_used),
            ("Memory/Heap/Max", self.heap_max),
            ("JmxBuiltIn/Threads/Thread Count", self.threads as f64),
            ("Threads/Summary/State/Blocked/Count", self.blocked as f64),
            ("Threads/Summary/State/Runnable/Count", self.runnable as f64),
            ("Threads/Summary/State/Waiting/Count", (self.threads - self.blocked - self.runnable) as f64),
        ]
    }
}

/// The `Metric` events of every JVM application.
pub(super) fn generate_metrics(
    rng: &mut StdRng,
    apps: &[AppInstance],
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let mut texts = Texts::default();
    for app in apps.iter().filter(|app| app.spec.language == "java") {
        let account_events = events.entry(app.account_id).or_default();
        let app_name: Arc<str> = Arc::from(app.spec.name);
        let guid: Arc<str> = Arc::from(app.guid.as_str());
        let jvm = profile(app);
        let leaking = app.is_production("inventory-worker");
        let blocking = app.is_production("checkout-service");
        for timestamp in every(start, anchor_ms, SAMPLE_SPACING_MS) {
            // 0 until the heap starts filling up, 1 at the anchor.
            let pressure = if leaking {
                ((timestamp - (anchor_ms - INVENTORY_HEAP_PRESSURE_MS)) as f64
                    / INVENTORY_HEAP_PRESSURE_MS as f64)
                    .clamp(0.0, 1.0)
            } else {
                0.0
            };
            let heap_fraction = if pressure > 0.0 {
                0.6 + 0.35 * pressure + rng.random_range(0.0..0.03)
            } else {
                rng.random_range(0.35..0.7)
            };
            let old_gc = if pressure > 0.0 {
                400.0 + 1100.0 * pressure * rng.random_range(0.8..1.0)
            } else if rng.random_bool(0.02) {
                rng.random_range(150.0..400.0)
            } else {
                0.0
            };
            let young_gc = rng.random_range(jvm.young_gc_ms.0..jvm.young_gc_ms.1) * (1.0 + 2.0 * pressure);
            let threads = rng.random_range(jvm.threads.0..=jvm.threads.1);
            let blocked = if blocking && timestamp >= anchor_ms - BAD_RELEASE_AGO_MS {
                rng.random_range(5..=12)
            } else {
                rng.random_range(0..=3)
            };
            let reading = JvmReading {
                young_gc: round_to(young_gc, 1),
                old_gc: round_to(old_gc, 1),
                heap_used: round_to(jvm.heap_max_mb * heap_fraction, 1),
                heap_max: jvm.heap_max_mb,
                threads,
                blocked,
                runnable: rng.random_range(jvm.runnable.0..=jvm.runnable.1),
            };
            for (name, value) in reading.timeslices() {
                account_events.push(
                    Event::new("Metric", timestamp)
                        .with("appName", &app_name)
                        .with("entity.guid", &guid)
                        .with("metricTimesliceName", texts.get(name))
                        .with("newrelic.timeslice.value", value),
                );
            }
        }
    }
}
