#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]
use newrelic_mcp_sandbox::Dataset;
#[test]
#[ignore]
fn dump() {
    let w = Dataset::generate(7, 1_767_225_600_000);
    let mut out = String::new();
    for (account, events) in &w.events {
        for e in events {
            if ["Transaction","TransactionError","Log","SystemSample","Deployment","NrAiIssue","Span"].contains(&e.event_type) {
                let line = format!("{account} {} {} {:?}\n", e.event_type, e.timestamp, e.attributes.iter().filter(|(k,_)| !["id","host","error.class","error.message"].contains(k) || e.event_type != "Span").collect::<Vec<_>>());
                out.push_str(&line.replace("OtherTransaction/Celery/inventory.reserve","OtherTransaction/Message/Kafka/Topic/Consume/Named/inventory-reservations").replace("OtherTransaction/Celery/inventory.restock","OtherTransaction/Java/com.acme.inventory.RestockJob/run"));
            }
        }
    }
    std::fs::write(std::env::var("DUMP_TO").unwrap(), out).unwrap();
}
