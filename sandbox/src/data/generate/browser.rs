//! The `acme-web` browser application (domain `BROWSER`, type `APPLICATION`), served by
//! `web-frontend`: its `PageView`s and `JavaScriptError`s. Since the bad payments release the
//! checkout page throws far more often, because the payment response it reads is missing.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::super::guid::entity_guid;
use super::super::model::{Account, Entity, EntityKind};
use super::{AppInstance, BAD_RELEASE_AGO_MS, PRODUCTION, Texts, account_name, hex_id, permalink, round_to};

/// The browser application's name.
pub(super) const BROWSER_APP: &str = "acme-web";
const BROWSER_APPLICATION_ID: i64 = 300_001;
/// One page view every this many milliseconds on average.
const PAGE_VIEW_SPACING_MS: i64 = 60_000;
const CHECKOUT_PAGE: &str = "https://www.acme.example/checkout";

/// Pages with their weights and typical load times (s).
const PAGES: [(&str, u32, f64); 4] = [
    ("https://www.acme.example/", 35, 1.4),
    ("https://www.acme.example/products/42", 30, 1.9),
    ("https://www.acme.example/search", 20, 2.2),
    (CHECKOUT_PAGE, 15, 2.8),
];
const USER_AGENTS: [(&str, u32); 4] = [("Chrome", 60), ("Safari", 25), ("Firefox", 10), ("Edge", 5)];
const COUNTRIES: [(&str, u32); 5] = [("US", 45), ("GB", 15), ("DE", 15), ("JP", 10), ("BR", 15)];
/// Errors any page may throw now and then: class and message.
const EVERYDAY_ERRORS: [(&str, &str); 2] =
    [("ChunkLoadError", "Loading chunk 512 failed."), ("ReferenceError", "gtag is not defined")];
const CHECKOUT_ERROR: (&str, &str) =
    ("TypeError", "Cannot read properties of undefined (reading 'authorizationId')");

/// The GUID of the browser application.
pub(super) fn browser_guid() -> String {
    entity_guid(PRODUCTION, "BROWSER", "APPLICATION", &BROWSER_APPLICATION_ID.to_string())
}

/// The browser application as an entity; `frontend` is the APM application serving it.
pub(super) fn browser_entity(accounts: &[Account], frontend: Option<&AppInstance>) -> Entity {
    let guid = browser_guid();
    Entity {
        name: BROWSER_APP.to_string(),
        account_id: PRODUCTION,
        domain: "BROWSER",
        entity_type_tag: "APPLICATION",
        kind: EntityKind::BrowserApplication {
            application_id: BROWSER_APPLICATION_ID,
            serving_apm_application_id: frontend.map(|app| app.application_id),
        },
        reporting: true,
        alert_severity: "NOT_ALERTING",
        tags: vec![
            ("account".to_string(), vec![account_name(accounts, PRODUCTION)]),
            ("accountId".to_string(), vec![PRODUCTION.to_string()]),
            ("environment".to_string(), vec!["production".to_string()]),
            ("team".to_string(), vec!["storefront".to_string()]),
        ],
        permalink: permalink(&guid),
        guid,
    }
}

fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (item, weight) in weighted {
        if roll < *weight {
            return *item;
        }
        roll -= weight;
    }
    weighted[0].0
}

/// `PageView`s and `JavaScriptError`s of the browser application (production account).
pub(super) fn generate_page_views(
    rng: &mut StdRng,
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let account_events = events.entry(PRODUCTION).or_default();
    let app_name: Arc<str> = Arc::from(BROWSER_APP);
    let guid: Arc<str> = Arc::from(browser_guid());
    let pages: Vec<(Arc<str>, u32, f64)> =
        PAGES.iter().map(|(url, weight, load)| (Arc::from(*url), *weight, *load)).collect();
    let page_weights: Vec<(usize, u32)> = pages.iter().enumerate().map(|(n, page)| (n, page.1)).collect();
    let bad_release = anchor_ms - BAD_RELEASE_AGO_MS;
    let mut texts = Texts::default();
    // A visitor's session spans a few page views, with the same browser and country.
    let mut session: (Arc<str>, &'static str, &'static str) = (Arc::from(""), "", "");
    let mut views_left_in_session = 0;
    let mut slot = start;
    while slot < anchor_ms {
        let timestamp = slot + rng.random_range(0..PAGE_VIEW_SPACING_MS);
        slot += PAGE_VIEW_SPACING_MS;
        if views_left_in_session == 0 {
            session = (Arc::from(hex_id(rng, 16)), pick(rng, &USER_AGENTS), pick(rng, &COUNTRIES));
            views_left_in_session = rng.random_range(1..=8);
        }
        views_left_in_session -= 1;
        let (session_id, user_agent, country) = (&session.0, session.1, session.2);
        let (url, _, typical_load) = &pages[pick(rng, &page_weights)];
        let spread: f64 = rng.random();
        let duration = typical_load * (0.5 + 1.5 * spread * spread);
        account_events.push(
            Event::new("PageView", timestamp)
                .with("appName", &app_name)
                .with("entityGuid", &guid)
                .with("pageUrl", url)
                .with("duration", round_to(duration, 3))
                .with("userAgentName", texts.get(user_agent))
                .with("countryCode", texts.get(country))
                .with("session", session_id),
        );
        let checkout_broken = &**url == CHECKOUT_PAGE && timestamp >= bad_release;
        let error = if checkout_broken && rng.random_bool(0.25) {
            Some(CHECKOUT_ERROR)
        } else if rng.random_bool(0.02) {
            Some(EVERYDAY_ERRORS[rng.random_range(0..EVERYDAY_ERRORS.len())])
        } else {
            None
        };
        if let Some((class, message)) = error {
            account_events.push(
                Event::new("JavaScriptError", timestamp + rng.random_range(500..15_000))
                    .with("appName", &app_name)
                    .with("entityGuid", &guid)
                    .with("errorClass", texts.get(class))
                    .with("errorMessage", texts.get(message))
                    .with("pageUrl", url)
                    .with("session", session_id)
                    .with("userAgentName", texts.get(user_agent)),
            );
        }
    }
}
