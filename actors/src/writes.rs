//! Writes, confirmed in two steps, so that nothing in New Relic changes by accident.
//!
//! A tool that changes something plans a [`WritePlan`], which names the accounts it changes.
//! Under an account allow-list a write is refused, at either step, when it names an account
//! outside the list or names none (then nothing says where it would land). Called without a
//! confirmation token, the call answers the plan's preview, with the accounts it changes, plus
//! a single-use token the signer binds to the exact arguments; nothing is sent. Called again with that token, the signer redeems it and
//! consults its record of confirmed writes: a call with these arguments that already succeeded
//! answers with its first result (never a duplicate), one that is running is held off, and
//! otherwise the mutation is sent once and the object is read back uncached.
//!
//! The front door hands each write to a task of its own (writes are rare and wait on the
//! signer and the executor in turn), so routing never waits on one. The presentation of
//! previews and repeats is pure and tested below.

use std::sync::Arc;
use std::time::Duration;

use ractor::RpcReplyPort;
use ractor::concurrency::oneshot;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::call::{CallError, CallResult};
use crate::executor::{self, Responder, UpstreamJob};
use crate::links::Links;
use crate::signer::{
    Binding, ConfirmationToken, SignerError, SignerHandle, SignerMsg, UnixTime, WriteAdmission, WriteOutcome,
};
use crate::tool::{
    CONFIRMATION_TOKEN_ARGUMENT, NrqlAccounts, Renderer, ToolError, ToolErrorKind, ToolOutput, WritePlan,
};
use crate::upstream::UpstreamRequest;

/// One write call, as the front door hands it over.
pub(crate) struct WriteCall {
    pub tool: String,
    /// SHA-256 of the tool and its arguments (without the token).
    pub binding: Binding,
    pub token: Option<String>,
    pub plan: WritePlan,
    /// The server's account allow-list, when it has one.
    pub allowed_accounts: Option<Arc<[i64]>>,
    pub deadline: Instant,
    pub timeout: Duration,
    pub cancel: CancellationToken,
}

/// Runs `call` on a task of its own and answers `reply` from there.
pub(crate) fn route(call: WriteCall, links: Links, reply: RpcReplyPort<CallResult>) {
    tokio::spawn(async move {
        let cancel = call.cancel.clone();
        let tool = call.tool.clone();
        let (binding, confirmed) = (call.binding, call.token.is_some());
        let signer = links.signer.clone();
        // A write, once confirmed, runs to its end on a task of its own so that its outcome is
        // recorded; cancelling only stops the caller waiting for it.
        let work = tokio::spawn(async move { run(call, &links).await });
        let result = tokio::select! {
            joined = work => joined.unwrap_or_else(|failure| {
                let reason = format!("the write task of '{tool}' failed ({failure})");
                if confirmed {
                    // Whether it got as far as New Relic is unknown: hold repeats off.
                    let outcome = WriteOutcome::Uncertain(reason.clone());
                    let _ = signer.cast(SignerMsg::FinishWrite { binding, outcome });
                }
                Err(ToolError::new(
                    ToolErrorKind::Internal,
                    format!("{reason}; check in New Relic whether it was applied"),
                ))
            }),
            () = cancel.cancelled() => Err(ToolError::new(
                ToolErrorKind::Cancelled,
                format!(
                    "the call was cancelled; a confirmed change may still be applied: call '{tool}' again with the \
                     same arguments and {CONFIRMATION_TOKEN_ARGUMENT} to get its result"
                ),
            )),
        };
        let _ = reply.send(result.map_err(CallError::Tool));
    });
}

async fn run(call: WriteCall, links: &Links) -> Result<Arc<ToolOutput>, ToolError> {
    let WriteCall { tool, binding, token, plan, allowed_accounts, deadline, timeout, .. } = call;
    check_accounts(&tool, &plan.accounts, allowed_accounts.as_deref())?;
    let signer = SignerHandle::new(links.signer.clone());
    let Some(token) = token else {
        let issued = signer.issue_confirmation(binding).await.map_err(|refusal| refused(&tool, refusal))?;
        let preview = with_accounts(plan.preview, &plan.accounts);
        return Ok(Arc::new(with_confirmation(&tool, preview, &issued, UnixTime::now())));
    };
    let admission = signer.begin_write(token, binding).await.map_err(|refusal| refused(&tool, refusal))?;
    match admission {
        WriteAdmission::AlreadyApplied { output, applied_at } => {
            Ok(Arc::new(already_applied(&output, applied_at, UnixTime::now())))
        }
        WriteAdmission::Running => Err(ToolError {
            retry_after: Some(Duration::from_secs(1)),
            ..ToolError::new(
                ToolErrorKind::Overloaded,
                format!(
                    "'{tool}' with these exact arguments is being applied right now; call again in a moment \
                     with the same confirmation_token to get its result"
                ),
            )
        }),
        WriteAdmission::Uncertain { reason, since } => Err(ToolError::new(
            ToolErrorKind::Policy,
            format!(
                "'{tool}' with these exact arguments was confirmed {} s ago and ended without a clear \
                 outcome ({reason}); it may have been applied. Check in New Relic before changing it \
                 again; this exact call is refused until {} s after that attempt",
                UnixTime::now().saturating_secs_since(since),
                WRITE_WINDOW_HINT_SECS,
            ),
        )),
        WriteAdmission::Proceed => {
            let (result, outcome) = match apply(&tool, plan, links, deadline, timeout).await {
                Ok(output) => (Ok(output.clone()), WriteOutcome::Applied(output)),
                Err(Sent::NotApplied(error)) => (Err(error), WriteOutcome::NotApplied),
                Err(Sent::Unknown(error)) => {
                    let outcome = WriteOutcome::Uncertain(error.message.clone());
                    (Err(may_have_been_applied(error)), outcome)
                }
            };
            let _ = links.signer.cast(SignerMsg::FinishWrite { binding, outcome });
            result
        }
    }
}

/// How long a write of unknown outcome holds repeats off, as the refusal quotes it: the
/// default window (a configured one only changes how long, not what to do).
const WRITE_WINDOW_HINT_SECS: u64 = crate::signer::writes::DEFAULT_WRITE_WINDOW.as_secs();

/// Why a confirmed write failed, by what it says about New Relic's state.
enum Sent {
    /// Refused before anything could change (bad arguments, auth, limits, nothing sent).
    NotApplied(ToolError),
    /// It may have reached New Relic and been applied (timeouts, 5xx, lost answers).
    Unknown(ToolError),
}

impl Sent {
    fn of(error: ToolError) -> Self {
        match error.kind {
            ToolErrorKind::BadRequest
            | ToolErrorKind::Policy
            | ToolErrorKind::Auth
            | ToolErrorKind::RateLimited
            | ToolErrorKind::Unavailable
            | ToolErrorKind::Overloaded
            | ToolErrorKind::NotFound
            | ToolErrorKind::Restarted => Self::NotApplied(error),
            ToolErrorKind::UpstreamTransient
            | ToolErrorKind::Timeout
            | ToolErrorKind::Cancelled
            | ToolErrorKind::Internal => Self::Unknown(error),
        }
    }
}

/// The error of a write whose outcome is unknown, with what to do about it.
fn may_have_been_applied(error: ToolError) -> ToolError {
    let message = format!(
        "{}. The change may have been applied: check in New Relic before confirming it again (repeats of \
         this exact call are refused for {} minutes)",
        error.message.trim_end_matches('.'),
        WRITE_WINDOW_HINT_SECS / 60
    );
    ToolError { kind: ToolErrorKind::Policy, message, retry_after: None, ..error }
}

/// Sends the mutation once, then reads the object back uncached.
async fn apply(
    tool: &str,
    plan: WritePlan,
    links: &Links,
    deadline: Instant,
    timeout: Duration,
) -> Result<Arc<ToolOutput>, Sent> {
    let WritePlan { request, render, read_back, .. } = plan;
    let written =
        execute(tool, request, render, links, deadline, timeout).await.map_err(|lost| match lost {
            Some(error) => Sent::of(error),
            None => Sent::Unknown(ToolError::new(
                ToolErrorKind::Restarted,
                format!("a server component restarted while '{tool}' was being applied"),
            )),
        })?;
    let Some((read, render_read)) = read_back.and_then(|build| build(&written)) else {
        return Ok(written);
    };
    if Instant::now() >= deadline {
        return Ok(Arc::new(without_read_back(&written, "the call's deadline had passed")));
    }
    match execute(tool, read, render_read, links, deadline, timeout).await {
        Ok(read) => Ok(read),
        Err(error) => {
            let reason =
                error.map_or_else(|| "a server component restarted".to_string(), |error| error.message);
            Ok(Arc::new(without_read_back(&written, &reason)))
        }
    }
}

/// One request through the executor pool, uncached. `Err(None)` when the answer was lost to
/// a crash (the request may or may not have been sent).
async fn execute(
    tool: &str,
    request: UpstreamRequest,
    render: Renderer,
    links: &Links,
    deadline: Instant,
    timeout: Duration,
) -> Result<Arc<ToolOutput>, Option<ToolError>> {
    let (sender, receiver) = oneshot();
    let job = UpstreamJob {
        tool: tool.to_string(),
        request,
        render,
        deadline,
        timeout,
        nrql_accounts: NrqlAccounts::NONE,
        cancel: CancellationToken::new(),
        breaker: links.breaker.clone(),
        reply: Responder::caller(RpcReplyPort::from(sender)),
    };
    if executor::dispatch(&links.executor, job).is_err() {
        return Err(Some(ToolError {
            retry_after: Some(Duration::from_secs(1)),
            ..ToolError::new(
                ToolErrorKind::Restarted,
                "the executor pool is restarting; nothing was sent; retry in a moment",
            )
        }));
    }
    match receiver.await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(CallError::Tool(error))) => Err(Some(error)),
        Ok(Err(other)) => Err(Some(ToolError::new(ToolErrorKind::Internal, other.to_string()))),
        Err(_) => Err(None),
    }
}

fn refused(tool: &str, refusal: SignerError) -> ToolError {
    match refusal {
        SignerError::Unavailable { .. } => ToolError {
            retry_after: Some(Duration::from_secs(1)),
            ..ToolError::new(
                ToolErrorKind::Restarted,
                "the confirmation service is restarting; nothing was changed; call again in a moment (a \
                 confirmation_token issued before the restart must be requested again)",
            )
        },
        SignerError::Writes(full) => ToolError {
            retry_after: Some(Duration::from_secs(1)),
            ..ToolError::new(ToolErrorKind::Overloaded, full.to_string())
        },
        other => ToolError::new(ToolErrorKind::Policy, format!("'{tool}' was not applied: {other}")),
    }
}

/// `structured` with `key` added: beside its fields when it is an object, else with the
/// value itself kept under `wrap_as`.
fn with_field(structured: Value, wrap_as: &str, key: &str, value: Value) -> Value {
    match structured {
        Value::Object(mut fields) => {
            fields.insert(key.to_string(), value);
            Value::Object(fields)
        }
        other => json!({ wrap_as: other, key: value }),
    }
}

/// Under an allow-list, refuses a write that names an account outside it, or names none.
pub fn check_accounts(tool: &str, accounts: &[i64], allowed: Option<&[i64]>) -> Result<(), ToolError> {
    let Some(allowed) = allowed else { return Ok(()) };
    let list = || allowed.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    if accounts.is_empty() {
        return Err(ToolError::new(
            ToolErrorKind::Policy,
            format!(
                "'{tool}' was not applied: the change names no account (no account id, no entity GUID), so \
                 this server's account allow-list ({}) cannot vouch for where it lands; name the account in \
                 the mutation",
                list()
            ),
        ));
    }
    match accounts.iter().find(|account| !allowed.contains(account)) {
        Some(outside) => Err(ToolError::new(
            ToolErrorKind::Policy,
            format!(
                "'{tool}' was not applied: account {outside} is outside this server's allowed accounts ({}); \
                 use one of those",
                list()
            ),
        )),
        None => Ok(()),
    }
}

/// The preview with the accounts the write changes, in its text and as `accounts`.
pub fn with_accounts(preview: ToolOutput, accounts: &[i64]) -> ToolOutput {
    let line = match accounts {
        [] => "Account this changes: none named in the mutation; New Relic applies it wherever the API key \
               reaches."
            .to_string(),
        [one] => format!("Account this changes: {one}."),
        many => format!(
            "Accounts this changes: {}.",
            many.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let structured = with_field(preview.structured, "preview", "accounts", json!(accounts));
    ToolOutput { structured, text: format!("{}\n{line}\n", preview.text.trim_end()) }
}

/// The first call's answer: the preview, and how to apply it.
pub fn with_confirmation(
    tool: &str,
    preview: ToolOutput,
    token: &ConfirmationToken,
    now: UnixTime,
) -> ToolOutput {
    let valid_for = token.expires_at.saturating_secs_since(now);
    let confirmation = json!({
        "applied": false,
        CONFIRMATION_TOKEN_ARGUMENT: token.token,
        "expiresAtEpochSeconds": token.expires_at.as_secs(),
        "validForSeconds": valid_for,
        "howToApply": format!(
            "call {tool} again with the same arguments plus {CONFIRMATION_TOKEN_ARGUMENT}; the token works once"
        ),
    });
    let structured = with_field(preview.structured, "preview", "confirmation", confirmation);
    let text = format!(
        "{}\n\nNothing has been changed yet. To apply exactly this, call {tool} again with the same arguments \
         plus \"{CONFIRMATION_TOKEN_ARGUMENT}\": \"{}\" (valid for {valid_for} s, once).",
        preview.text.trim_end(),
        token.token
    );
    ToolOutput { structured, text }
}

/// The answer to a repeat of a write that was already applied.
pub fn already_applied(first: &ToolOutput, applied_at: UnixTime, now: UnixTime) -> ToolOutput {
    let ago = now.saturating_secs_since(applied_at);
    let note = json!({ "appliedAtEpochSeconds": applied_at.as_secs(), "secondsAgo": ago });
    let structured = with_field(first.structured.clone(), "result", "alreadyApplied", note);
    let text = format!(
        "This exact change was already applied {ago} s ago; nothing was sent again. Its result:\n{}",
        first.text
    );
    ToolOutput { structured, text }
}

/// A write that succeeded but could not be read back.
pub fn without_read_back(written: &ToolOutput, reason: &str) -> ToolOutput {
    let structured = with_field(written.structured.clone(), "result", "readBack", json!({ "error": reason }));
    let text = format!(
        "{}\n\nThe change was applied, but reading it back failed ({reason}); check it in New Relic before \
         changing it again.",
        written.text.trim_end()
    );
    ToolOutput { structured, text }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

    use super::*;

    fn output(structured: Value, text: &str) -> ToolOutput {
        ToolOutput { structured, text: text.to_string() }
    }

    #[test]
    fn a_preview_carries_the_token_and_how_to_use_it() {
        let token = ConfirmationToken { token: "nrcfm1_abc".into(), expires_at: UnixTime::from_secs(1_300) };
        let cases = [
            (json!({"policy": {"name": "checkout"}}), json!({"name": "checkout"}), "policy"),
            (json!(["not", "an", "object"]), json!(["not", "an", "object"]), "preview"),
        ];
        for (structured, kept, field) in cases {
            let answer = with_confirmation(
                "create_alert_policy",
                output(structured, "Would create"),
                &token,
                UnixTime::from_secs(1_000),
            );
            assert_eq!(answer.structured[field], kept);
            let confirmation = &answer.structured["confirmation"];
            assert_eq!(confirmation["confirmation_token"], "nrcfm1_abc");
            assert_eq!(confirmation["applied"], false);
            assert_eq!(confirmation["validForSeconds"], 300);
            assert!(answer.text.starts_with("Would create"));
            assert!(answer.text.contains("Nothing has been changed yet"));
            assert!(answer.text.contains("\"confirmation_token\": \"nrcfm1_abc\""));
            assert!(answer.text.contains("valid for 300 s"));
        }
    }

    #[test]
    fn a_preview_names_the_accounts_it_changes() {
        let cases: [(&[i64], &str); 3] = [
            (&[1_000_001], "Account this changes: 1000001."),
            (&[1, 2], "Accounts this changes: 1, 2."),
            (&[], "Account this changes: none named in the mutation"),
        ];
        for (accounts, line) in cases {
            let preview =
                with_accounts(output(json!({"action": "create"}), "DRY RUN. Would create\n"), accounts);
            assert_eq!(preview.structured["accounts"], json!(accounts));
            assert_eq!(preview.structured["action"], "create");
            assert!(preview.text.starts_with("DRY RUN. Would create\n"), "{}", preview.text);
            assert!(preview.text.contains(line), "{}", preview.text);
        }
        let wrapped = with_accounts(output(json!([1]), "x"), &[3]);
        assert_eq!(wrapped.structured, json!({"preview": [1], "accounts": [3]}));
    }

    #[test]
    fn the_allow_list_holds_for_every_write() {
        let allowed: &[i64] = &[1, 2];
        let cases: [(&[i64], Option<&[i64]>, Option<&str>); 6] = [
            (&[1], Some(allowed), None),
            (&[1, 2], Some(allowed), None),
            (&[1, 3], Some(allowed), Some("account 3 is outside this server's allowed accounts (1, 2)")),
            (&[], Some(allowed), Some("names no account")),
            (&[], None, None),
            (&[3], None, None),
        ];
        for (accounts, allowed, refusal) in cases {
            match (check_accounts("create_thing", accounts, allowed), refusal) {
                (Ok(()), None) => {}
                (Err(error), Some(needle)) => {
                    assert_eq!(error.kind, ToolErrorKind::Policy);
                    assert!(error.message.contains(needle), "{}", error.message);
                    assert!(error.message.starts_with("'create_thing' was not applied"), "{}", error.message);
                }
                (other, _) => panic!("{accounts:?} {allowed:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_repeat_says_it_was_already_applied() {
        let first = output(json!({"policy": {"id": "7"}}), "Created policy 7");
        let answer = already_applied(&first, UnixTime::from_secs(1_000), UnixTime::from_secs(1_042));
        assert_eq!(answer.structured["policy"]["id"], "7");
        assert_eq!(answer.structured["alreadyApplied"]["secondsAgo"], 42);
        assert!(answer.text.starts_with("This exact change was already applied 42 s ago"));
        assert!(answer.text.ends_with("Created policy 7"));
        let scalar =
            already_applied(&output(json!(true), "ok"), UnixTime::from_secs(5), UnixTime::from_secs(5));
        assert_eq!(scalar.structured["result"], true);
    }

    #[test]
    fn a_failed_read_back_keeps_the_write_and_says_why() {
        let written = output(json!({"policy": {"id": "7"}}), "Created policy 7");
        let answer = without_read_back(&written, "NerdGraph timed out");
        assert_eq!(answer.structured["policy"]["id"], "7");
        assert_eq!(answer.structured["readBack"]["error"], "NerdGraph timed out");
        assert!(
            answer.text.contains("The change was applied, but reading it back failed (NerdGraph timed out)")
        );
    }
}
