//! Writes go through two steps: a preview with a single-use token bound to the arguments,
//! then, with the token, one mutation and an uncached read-back. Repeats never write twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use newrelic_mcp_actors::call::{CallError, CallResult};
use newrelic_mcp_actors::tool::{ToolErrorKind, ToolFilter};
use newrelic_mcp_actors::upstream::{FailureClass, RequestKind};
use newrelic_mcp_actors::{Runtime, RuntimeConfig};
use support::*;

fn token_of(result: &CallResult) -> String {
    let output = result.as_ref().expect("a preview");
    output.structured["confirmation"]["confirmation_token"].as_str().expect("a token").to_string()
}

#[tokio::test]
async fn the_first_call_previews_and_sends_nothing() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let preview = bounded(&handle, call("mutate", "policy-a")).await;
    let output = preview.as_ref().unwrap();
    assert_eq!(output.structured["wouldWrite"], "policy-a");
    assert_eq!(output.structured["confirmation"]["applied"], false);
    assert!(output.text.starts_with("would write policy-a"));
    assert!(output.text.contains("Nothing has been changed yet"));
    assert!(token_of(&preview).starts_with("nrcfm1_"));
    assert_eq!(upstream.calls(), 0, "a preview sends nothing");
    handle.shutdown().await;
}

#[tokio::test]
async fn the_confirmed_call_writes_once_and_reads_back() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    let applied = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.unwrap();
    assert_eq!(applied.text, "written and read back: \"policy-a\"");
    assert_eq!(applied.structured["readBack"]["readBack"], true);
    assert_eq!(upstream.received(RequestKind::Write), 1);
    assert_eq!(upstream.received(RequestKind::Read), 1, "the read-back");
    handle.shutdown().await;
}

#[tokio::test]
async fn repeating_a_confirmed_write_returns_the_first_result() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    let first = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.unwrap();

    // The same token again (a client retrying after a lost reply).
    let replayed = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.unwrap();
    assert!(replayed.text.starts_with("This exact change was already applied"), "{}", replayed.text);
    assert_eq!(replayed.structured["readBack"], first.structured["readBack"]);
    assert!(replayed.structured["alreadyApplied"]["appliedAtEpochSeconds"].is_u64());

    // A fresh confirmation of the same arguments.
    let second_token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    assert_ne!(second_token, token);
    let again = bounded(&handle, confirmed(call("mutate", "policy-a"), &second_token)).await.unwrap();
    assert!(again.text.starts_with("This exact change was already applied"), "{}", again.text);

    assert_eq!(upstream.received(RequestKind::Write), 1, "never a duplicate");
    handle.shutdown().await;
}

#[tokio::test]
async fn altered_forged_and_misplaced_tokens_are_refused() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);

    let altered = bounded(&handle, confirmed(call("mutate", "policy-b"), &token)).await;
    let error = tool_error(&altered);
    assert_eq!(error.kind, ToolErrorKind::Policy);
    assert!(error.message.contains("issued for different arguments"), "{}", error.message);

    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let error = tool_error(&bounded(&handle, confirmed(call("mutate", "policy-a"), &forged)).await).clone();
    assert_eq!(error.kind, ToolErrorKind::Policy);
    assert!(error.message.contains("altered or was not issued by this server"), "{}", error.message);

    let garbage = bounded(&handle, confirmed(call("mutate", "policy-a"), "yes please")).await;
    assert!(tool_error(&garbage).message.contains("not in the form this server issues"));

    let mut numeric = call("mutate", "policy-a");
    numeric.arguments.insert("confirmation_token".into(), serde_json::json!(42));
    assert!(matches!(bounded(&handle, numeric).await, Err(CallError::InvalidArguments { .. })));

    match bounded(&handle, confirmed(call("fetch", "x"), &token)).await {
        Err(CallError::InvalidArguments { reason, .. }) => {
            assert!(reason.contains("changes nothing"), "{reason}")
        }
        other => panic!("a read with a token is refused, got {other:?}"),
    }

    assert_eq!(upstream.received(RequestKind::Write), 0, "nothing was written");
    // The refusals did not use the token up: it still confirms the call it was issued for.
    bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.unwrap();
    assert_eq!(upstream.received(RequestKind::Write), 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_on_record_and_its_token_is_spent() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    upstream.fail_with(Some(FailureClass::BadRequest));
    let failed = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await;
    assert_eq!(tool_error(&failed).kind, ToolErrorKind::BadRequest);
    upstream.fail_with(None);

    let replayed = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await;
    assert!(tool_error(&replayed).message.contains("already used"), "{:?}", replayed);

    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.unwrap();
    assert_eq!(upstream.received(RequestKind::Write), 2, "the failed write may be confirmed again");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_write_that_may_have_reached_new_relic_is_not_confirmed_again() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    upstream.fail_with(Some(FailureClass::Transient));
    let failed = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await;
    let error = tool_error(&failed);
    assert_eq!(error.kind, ToolErrorKind::Policy);
    assert!(error.message.contains("The change may have been applied"), "{}", error.message);
    upstream.fail_with(None);

    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    let refused = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await;
    assert!(tool_error(&refused).message.contains("ended without a clear outcome"), "{refused:?}");
    assert_eq!(upstream.received(RequestKind::Write), 1, "sent once, never again while in doubt");
    bounded(
        &handle,
        confirmed(call("mutate", "policy-b"), &token_of(&bounded(&handle, call("mutate", "policy-b")).await)),
    )
    .await
    .expect("other arguments are not held off");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_write_that_cannot_be_read_back_still_reports_it_was_applied() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let token = token_of(&bounded(&handle, call("mutate", "policy-a")).await);
    upstream.fail_reads_with(Some(FailureClass::BadRequest));
    let output = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.unwrap();
    assert_eq!(upstream.received(RequestKind::Write), 1);
    assert_eq!(upstream.received(RequestKind::Read), 1, "the read-back was tried once");
    assert!(output.structured["readBack"]["error"].as_str().unwrap().contains("injected"));
    assert!(output.text.contains("The change was applied, but reading it back failed"), "{}", output.text);

    // The applied write is on record: a repeat answers it and sends nothing.
    let replayed = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.unwrap();
    assert!(replayed.text.starts_with("This exact change was already applied"));
    assert_eq!(upstream.received(RequestKind::Write), 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn write_tools_are_hidden_unless_writes_are_enabled() {
    let config = RuntimeConfig { tool_filter: ToolFilter::default(), ..small_config() };
    let handle = Runtime::start(config, FakeUpstream::new(), vec![standard_plugin()]).await.unwrap();
    let names: Vec<String> = handle.tools().await.iter().map(|tool| tool.descriptor().name.clone()).collect();
    assert!(!names.contains(&"mutate".to_string()), "{names:?}");
    assert!(matches!(bounded(&handle, call("mutate", "x")).await, Err(CallError::UnknownTool { .. })));
    handle.shutdown().await;
}
