//! Distributed traces of checkouts in production: a request enters `web-frontend`, which
//! calls `checkout-service`, which writes to its database, calls `payments-api` (which
//! writes to its own) and, when the payment went through, hands the reservation to
//! `inventory-worker` over Kafka. Every span has an `id`; every span but the root has the
//! `parent.id` of a span of the same trace. Client spans name their `peer.service` or
//! `db.system`; failing spans carry `error.message`, and a payment failure fails every span
//! on its way back to the browser.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::{
    AppInstance, BAD_RELEASE_AGO_MS, BAD_RELEASE_ERROR_RATE, MINUTE, PRODUCTION, SPAN_HISTORY_MS, hex_id,
    round_to,
};

/// One checkout trace every this many milliseconds on average.
const TRACE_SPACING_MS: i64 = 3 * MINUTE;
/// Payments' failure rate before the bad release.
const BASELINE_PAYMENT_FAILURE_RATE: f64 = 0.01;
/// How often the inventory worker fails to reserve stock (it retries later; nothing upstream
/// notices).
const INVENTORY_FAILURE_RATE: f64 = 0.02;

/// What a service reports about itself on each of its spans.
struct Service {
    name: Arc<str>,
    guid: Arc<str>,
    host: Arc<str>,
}

impl Service {
    fn of(apps: &[AppInstance], name: &str) -> Option<Service> {
        apps.iter().find(|app| app.is_production(name)).map(|app| Service {
            name: Arc::from(app.spec.name),
            guid: Arc::from(app.guid.as_str()),
            host: Arc::from(app.host.as_str()),
        })
    }
}

/// Where a span sits in its trace and what it did.
struct SpanSpec<'a> {
    id: &'a str,
    service: &'a Service,
    name: &'static str,
    kind: &'static str,
    start: f64,
    duration_ms: f64,
    parent: Option<&'a str>,
    /// `peer.service` or `db.system`, for client spans.
    peer: Option<(&'static str, &'static str)>,
    failure: Option<(&'static str, &'static str)>,
}

/// The `Span` event of `spec` in the trace `trace_id`.
fn span_event(trace_id: &Arc<str>, spec: &SpanSpec<'_>) -> Event {
    let mut span = Event::new("Span", spec.start.floor() as i64)
        .with("name", spec.name)
        .with("duration.ms", round_to(spec.duration_ms, 1))
        .with("service.name", &spec.service.name)
        .with("appName", &spec.service.name)
        .with("entity.guid", &spec.service.guid)
        .with("trace.id", trace_id)
        .with("span.kind", spec.kind)
        .with("error", spec.failure.is_some())
        .with("id", spec.id)
        .with("host", &spec.service.host);
    if let Some(parent) = spec.parent {
        span = span.with("parent.id", parent);
    }
    if let Some((attribute, value)) = spec.peer {
        span = span.with(attribute, value);
    }
    if let Some((class, message)) = spec.failure {
        span = span.with("error.class", class).with("error.message", message);
    }
    span
}

/// The checkout traces of the last [`SPAN_HISTORY_MS`].
pub(super) fn generate_traces(
    rng: &mut StdRng,
    apps: &[AppInstance],
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let (Some(frontend), Some(checkout), Some(payments), Some(inventory)) = (
        Service::of(apps, "web-frontend"),
        Service::of(apps, "checkout-service"),
        Service::of(apps, "payments-api"),
        Service::of(apps, "inventory-worker"),
    ) else {
        return;
    };
    let account_events = events.entry(PRODUCTION).or_default();
    let mut slot = anchor_ms - SPAN_HISTORY_MS;
    while slot < anchor_ms {
        let start = (slot + rng.random_range(0..TRACE_SPACING_MS)) as f64;
        slot += TRACE_SPACING_MS;
        let failure_rate = if start >= (anchor_ms - BAD_RELEASE_AGO_MS) as f64 {
            BAD_RELEASE_ERROR_RATE
        } else {
            BASELINE_PAYMENT_FAILURE_RATE
        };
        let payment_failed = rng.random_bool(failure_rate);
        let inventory_failed = rng.random_bool(INVENTORY_FAILURE_RATE);

        // Durations first, from the leaves up; then start times from the root down.
        let network = |rng: &mut StdRng| rng.random_range(1.0..6.0);
        let payments_db = rng.random_range(4.0..15.0);
        let payments_total = if payment_failed {
            rng.random_range(5.0..20.0)
        } else {
            payments_db + rng.random_range(40.0..120.0)
        };
        let payments_call = payments_total + network(rng);
        let mut orders_db = rng.random_range(3.0..25.0);
        if rng.random_bool(0.03) {
            orders_db *= 8.0;
        }
        let produce = if payment_failed { 0.0 } else { rng.random_range(2.0..8.0) };
        let checkout_total = rng.random_range(20.0..60.0) + orders_db + payments_call + produce;
        let checkout_call = checkout_total + network(rng);
        let frontend_total = rng.random_range(8.0..25.0) + checkout_call;
        let consume_delay = rng.random_range(20.0..200.0);
        let consume = rng.random_range(150.0..600.0);

        let trace_id: Arc<str> = Arc::from(hex_id(rng, 32));
        let ids: Vec<String> = (0..9).map(|_| hex_id(rng, 16)).collect();
        let [
            root,
            frontend_client,
            checkout_server,
            orders,
            payments_client,
            payments_server,
            payments_orders,
            producer,
            consumer,
        ] = std::array::from_fn(|n| ids[n].as_str());

        let checkout_start = start + 2.0 + network(rng) / 2.0;
        let checkout_server_start = checkout_start + 1.0;
        let orders_start = checkout_server_start + 5.0;
        let payments_start = orders_start + orders_db + 1.0;
        let payments_server_start = payments_start + 1.0;
        let producer_start = payments_start + payments_call + 1.0;
        let fail = |class, message| payment_failed.then_some((class, message));
        let mut specs = vec![
            SpanSpec {
                id: root,
                service: &frontend,
                name: "WebTransaction/Expressjs/POST//checkout",
                kind: "server",
                start,
                duration_ms: frontend_total,
                parent: None,
                peer: None,
                failure: fail("CheckoutError", "checkout failed: checkout-service answered 502"),
            },
            SpanSpec {
                id: frontend_client,
                service: &frontend,
                name: "External/checkout-service/http/POST",
                kind: "client",
                start: checkout_start,
                duration_ms: checkout_call,
                parent: Some(root),
                peer: Some(("peer.service", "checkout-service")),
                failure: fail("HttpError", "HTTP 502 from checkout-service"),
            },
            SpanSpec {
                id: checkout_server,
                service: &checkout,
                name: "WebTransaction/SpringController/checkout/submit",
                kind: "server",
                start: checkout_server_start,
                duration_ms: checkout_total,
                parent: Some(frontend_client),
                peer: None,
                failure: fail(
                    "com.acme.checkout.PaymentDeclinedException",
                    "payment authorization failed: payments-api answered 500",
                ),
            },
            SpanSpec {
                id: orders,
                service: &checkout,
                name: "Datastore/statement/MySQL/orders/insert",
                kind: "client",
                start: orders_start,
                duration_ms: orders_db,
                parent: Some(checkout_server),
                peer: Some(("db.system", "mysql")),
                failure: None,
            },
            SpanSpec {
                id: payments_client,
                service: &checkout,
                name: "External/payments-api/http/POST",
                kind: "client",
                start: payments_start,
                duration_ms: payments_call,
                parent: Some(checkout_server),
                peer: Some(("peer.service", "payments-api")),
                failure: fail("HttpError", "HTTP 500 from payments-api"),
            },
            SpanSpec {
                id: payments_server,
                service: &payments,
                name: "WebTransaction/Go/payments/authorize",
                kind: "server",
                start: payments_server_start,
                duration_ms: payments_total,
                parent: Some(payments_client),
                peer: None,
                failure: fail("InternalError", "unexpected nil pointer"),
            },
        ];
        if !payment_failed {
            specs.push(SpanSpec {
                id: payments_orders,
                service: &payments,
                name: "Datastore/statement/Postgres/payments/insert",
                kind: "client",
                start: payments_server_start + 2.0,
                duration_ms: payments_db,
                parent: Some(payments_server),
                peer: Some(("db.system", "postgresql")),
                failure: None,
            });
            specs.push(SpanSpec {
                id: producer,
                service: &checkout,
                name: "MessageBroker/Kafka/Topic/Produce/Named/inventory-reservations",
                kind: "client",
                start: producer_start,
                duration_ms: produce,
                parent: Some(checkout_server),
                peer: Some(("peer.service", "inventory-worker")),
                failure: None,
            });
            specs.push(SpanSpec {
                id: consumer,
                service: &inventory,
                name: "OtherTransaction/Message/Kafka/Topic/Consume/Named/inventory-reservations",
                kind: "consumer",
                start: producer_start + produce + consume_delay,
                duration_ms: consume,
                parent: Some(producer),
                peer: None,
                failure: inventory_failed.then_some((
                    "com.acme.inventory.StockConflictException",
                    "stock version changed while reserving; will retry",
                )),
            });
        }
        for spec in &specs {
            account_events.push(span_event(&trace_id, spec));
        }
    }
}
