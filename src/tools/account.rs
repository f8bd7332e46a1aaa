//! Which account a call touches, and whether it may.

use newrelic_mcp_actors::tool::{PlanContext, ToolError, ToolErrorKind};

/// The call's account: the argument, else the configured default; refused outside the allow-list.
pub(crate) fn resolve_account(requested: Option<i64>, context: &PlanContext) -> Result<i64, ToolError> {
    let account = requested.or(context.default_account).ok_or_else(|| {
        ToolError::new(
            ToolErrorKind::BadRequest,
            "no account given: pass account_id, or set NEW_RELIC_ACCOUNT_ID; \
             list_available_new_relic_accounts lists the accounts this key can read",
        )
    })?;
    check_allowed(account, context)?;
    Ok(account)
}

/// Refuses an account outside the configured allow-list, naming the allowed ones.
pub(crate) fn check_allowed(account: i64, context: &PlanContext) -> Result<(), ToolError> {
    match &context.allowed_accounts {
        Some(allowed) if !allowed.contains(&account) => {
            let list = allowed.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            Err(ToolError::new(
                ToolErrorKind::Policy,
                format!(
                    "account {account} is outside this server's allowed accounts ({list}); use one of those"
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::type_complexity)]
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn context(default_account: Option<i64>, allowed: Option<&[i64]>) -> PlanContext {
        PlanContext {
            default_account,
            allowed_accounts: allowed.map(Arc::from),
            now_epoch_ms: 0,
            default_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn resolves_the_account_by_argument_default_and_allow_list() {
        let cases: &[(Option<i64>, Option<i64>, Option<&[i64]>, Result<i64, ToolErrorKind>)] = &[
            (Some(1), None, None, Ok(1)),
            (None, Some(2), None, Ok(2)),
            (Some(1), Some(2), None, Ok(1)),
            (None, None, None, Err(ToolErrorKind::BadRequest)),
            (Some(3), None, Some(&[1, 2]), Err(ToolErrorKind::Policy)),
            (None, Some(2), Some(&[1, 2]), Ok(2)),
        ];
        for (requested, default, allowed, expected) in cases {
            let got = resolve_account(*requested, &context(*default, *allowed)).map_err(|e| e.kind);
            assert_eq!(&got, expected, "requested {requested:?} default {default:?} allowed {allowed:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_allowed_accounts() {
        let error = resolve_account(Some(9), &context(None, Some(&[1, 2]))).unwrap_err();
        assert!(error.message.contains("1, 2"), "{}", error.message);
    }
}
