//! The `acme-kafka` cluster: broker throughput and the offsets and lag of its consumer
//! groups. The inventory worker's consumer lag grows while its heap is under pressure.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::{INVENTORY_HEAP_PRESSURE_MS, SLOW_SAMPLE_SPACING_MS, every, round_to};

/// The Kafka cluster's name.
const CLUSTER: &str = "acme-kafka";
const BROKERS: [i64; 3] = [1, 2, 3];

/// A consumer group reading a topic.
struct Consumption {
    group: &'static str,
    topic: &'static str,
    partitions: i64,
    /// Messages per second produced to each partition.
    rate: f64,
    /// Whether this is the inventory worker, which falls behind under heap pressure.
    falls_behind: bool,
}

const CONSUMPTIONS: [Consumption; 2] = [
    Consumption {
        group: "inventory-worker",
        topic: "inventory-reservations",
        partitions: 3,
        rate: 6.0,
        falls_behind: true,
    },
    Consumption {
        group: "analytics-sink",
        topic: "page-views",
        partitions: 2,
        rate: 14.0,
        falls_behind: false,
    },
];

/// `KafkaBrokerSample`s and `KafkaOffsetSample`s (production account).
pub(super) fn generate_samples(
    rng: &mut StdRng,
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let account_events = events.entry(super::PRODUCTION).or_default();
    let cluster: Arc<str> = Arc::from(CLUSTER);
    for timestamp in every(start, anchor_ms, SLOW_SAMPLE_SPACING_MS) {
        for broker in BROKERS {
            let messages = rng.random_range(800.0..1500.0);
            let bytes_in = messages * rng.random_range(1200.0..1800.0);
            account_events.push(
                Event::new("KafkaBrokerSample", timestamp)
                    .with("clusterName", &cluster)
                    .with("broker.id", broker)
                    .with("broker.bytesInPerSecond", round_to(bytes_in, 1))
                    .with("broker.bytesOutPerSecond", round_to(bytes_in * rng.random_range(1.9..2.3), 1))
                    .with("broker.messagesInPerSecond", round_to(messages, 1))
                    .with(
                        "request.produceRequestsPerSecond",
                        round_to(messages / rng.random_range(3.0..5.0), 1),
                    ),
            );
        }
    }
    let pressure_start = anchor_ms - INVENTORY_HEAP_PRESSURE_MS;
    for consumption in &CONSUMPTIONS {
        let group: Arc<str> = Arc::from(consumption.group);
        let topic: Arc<str> = Arc::from(consumption.topic);
        for partition in 0..consumption.partitions {
            let mut log_end = 1_250_000 + 37_000 * partition;
            for timestamp in every(start, anchor_ms, SLOW_SAMPLE_SPACING_MS) {
                let produced =
                    consumption.rate * rng.random_range(0.7..1.3) * (SLOW_SAMPLE_SPACING_MS / 1000) as f64;
                log_end += produced.round() as i64;
                let behind = consumption.falls_behind && timestamp >= pressure_start;
                let lag = if behind {
                    // Partition 1 carries the hot products, so it falls behind the most.
                    let hours = (timestamp - pressure_start) as f64 / 3_600_000.0;
                    let weight = if partition == 1 { 3.0 } else { 1.0 };
                    (50.0 + weight * 900.0 * hours * rng.random_range(0.9..1.1)).round() as i64
                } else {
                    rng.random_range(0..40)
                };
                account_events.push(
                    Event::new("KafkaOffsetSample", timestamp)
                        .with("clusterName", &cluster)
                        .with("consumerGroup", &group)
                        .with("topic", &topic)
                        .with("partition", partition)
                        .with("consumer.lag", lag)
                        .with("consumer.offset", log_end - lag),
                );
            }
        }
    }
}
