//! Application telemetry: transactions, their errors, logs and the server span of each
//! recent transaction (a trace of one span; the traces that cross services are built in
//! `traces`).

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::{
    AppInstance, BAD_RELEASE_AGO_MS, BAD_RELEASE_ERROR_RATE, PRODUCTION, SPAN_HISTORY_MS,
    TRANSACTION_SPACING_MS, Texts, hex_id, round_to,
};

/// `rng` draws the transactions; span ids come from `span_ids` so that the transactions stay
/// the same whatever the spans carry.
pub(super) fn generate_app_events(
    rng: &mut StdRng,
    span_ids: &mut StdRng,
    apps: &[AppInstance],
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let mut texts = Texts::default();
    for app in apps {
        let account_events = events.entry(app.account_id).or_default();
        let app_name: Arc<str> = Arc::from(app.spec.name);
        let guid: Arc<str> = Arc::from(app.guid.as_str());
        let host: Arc<str> = Arc::from(app.host.as_str());
        let bad_release = app.account_id == PRODUCTION && app.spec.name == "payments-api";
        let mut slot = start;
        let mut trace_counter: u64 = 0;
        while slot < anchor_ms {
            let timestamp = slot + rng.random_range(0..TRANSACTION_SPACING_MS);
            slot += TRANSACTION_SPACING_MS;
            let (name, method, uri) = app.spec.transactions[rng.random_range(0..app.spec.transactions.len())];
            let error_rate = if bad_release && timestamp >= anchor_ms - BAD_RELEASE_AGO_MS {
                BAD_RELEASE_ERROR_RATE
            } else {
                app.spec.error_rate
            };
            let error = rng.random_bool(error_rate);
            let spread: f64 = rng.random();
            let mut duration = app.spec.base_duration * (0.4 + 1.6 * spread * spread);
            if rng.random_bool(0.02) {
                duration *= 6.0;
            }
            let duration = round_to(duration, 4);
            let (class, message, code) = app.spec.errors[rng.random_range(0..app.spec.errors.len())];
            let status = if error { code } else { "200" };
            trace_counter += 1;
            let trace_id: Arc<str> = Arc::from(format!("{:016x}", rng.random::<u64>()));
            let mut transaction = Event::new("Transaction", timestamp)
                .with("appName", &app_name)
                .with("entityGuid", &guid)
                .with("entity.guid", &guid)
                .with("name", texts.get(name))
                .with("transactionType", texts.get(if method.is_empty() { "Other" } else { "Web" }))
                .with("duration", duration)
                .with("databaseDuration", round_to(duration * 0.3, 4))
                .with("error", error)
                .with("httpResponseCode", texts.get(status))
                .with("host", &host)
                .with("traceId", &trace_id);
            if !method.is_empty() {
                transaction =
                    transaction.with("request.method", texts.get(method)).with("request.uri", texts.get(uri));
            }
            account_events.push(transaction);
            if error {
                account_events.push(
                    Event::new("TransactionError", timestamp)
                        .with("appName", &app_name)
                        .with("entityGuid", &guid)
                        .with("entity.guid", &guid)
                        .with("transactionName", texts.get(name))
                        .with("error.class", texts.get(class))
                        .with("error.message", texts.get(message))
                        .with("httpResponseCode", texts.get(status))
                        .with("host", &host),
                );
                account_events.push(
                    Event::new("Log", timestamp)
                        .with("message", format!("{name} failed: {class}: {message}"))
                        .with("level", texts.get("ERROR"))
                        .with("service", &app_name)
                        .with("entity.guid", &guid)
                        .with("entity.name", &app_name)
                        .with("hostname", &host)
                        .with("trace.id", &trace_id),
                );
            } else if trace_counter.is_multiple_of(4) {
                let slow = duration > app.spec.base_duration * 3.0;
                let (level, text) = success_log_line(name, method, uri, duration * 1000.0, slow);
                account_events.push(
                    Event::new("Log", timestamp)
                        .with("message", text)
                        .with("level", texts.get(level))
                        .with("service", &app_name)
                        .with("entity.guid", &guid)
                        .with("entity.name", &app_name)
                        .with("hostname", &host)
                        .with("trace.id", &trace_id),
                );
            }
            if timestamp >= anchor_ms - SPAN_HISTORY_MS {
                let mut span = Event::new("Span", timestamp)
                    .with("name", texts.get(name))
                    .with("duration.ms", round_to(duration * 1000.0, 1))
                    .with("service.name", &app_name)
                    .with("appName", &app_name)
                    .with("entity.guid", &guid)
                    .with("trace.id", &trace_id)
                    .with("span.kind", texts.get("server"))
                    .with("error", error)
                    .with("id", hex_id(span_ids, 16))
                    .with("host", &host);
                if error {
                    span =
                        span.with("error.class", texts.get(class)).with("error.message", texts.get(message));
                }
                account_events.push(span);
            }
        }
    }
}

/// The level and message an app logs for a request that succeeded. Background work (a
/// transaction with no HTTP method, such as a Kafka consumer) names its transaction instead
/// of a request line.
fn success_log_line(
    name: &str,
    method: &str,
    uri: &str,
    duration_ms: f64,
    slow: bool,
) -> (&'static str, String) {
    let subject = if method.is_empty() { name.to_string() } else { format!("{method} {uri}") };
    if slow {
        ("WARN", format!("slow {subject} took {duration_ms:.0} ms"))
    } else {
        ("INFO", format!("completed {subject} in {duration_ms:.0} ms"))
    }
}

#[cfg(test)]
mod tests {
    use super::success_log_line;

    #[test]
    fn success_log_lines_name_the_request_or_the_background_transaction() {
        let consume = "OtherTransaction/Message/Kafka/Topic/Consume/Named/inventory-reservations";
        let cases = [
            (
                "WebTransaction/Go/payments/capture",
                "POST",
                "/v1/payments/capture",
                164.2,
                false,
                "INFO",
                "completed POST /v1/payments/capture in 164 ms",
            ),
            (
                "WebTransaction/Go/payments/capture",
                "POST",
                "/v1/payments/capture",
                912.0,
                true,
                "WARN",
                "slow POST /v1/payments/capture took 912 ms",
            ),
            (
                consume,
                "",
                "",
                376.4,
                false,
                "INFO",
                "completed OtherTransaction/Message/Kafka/Topic/Consume/Named/inventory-reservations in 376 ms",
            ),
            (
                consume,
                "",
                "",
                2400.0,
                true,
                "WARN",
                "slow OtherTransaction/Message/Kafka/Topic/Consume/Named/inventory-reservations took 2400 ms",
            ),
        ];
        for (name, method, uri, duration_ms, slow, level, message) in cases {
            assert_eq!(success_log_line(name, method, uri, duration_ms, slow), (level, message.to_string()));
        }
    }
}
