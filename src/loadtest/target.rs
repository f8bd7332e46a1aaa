//! Which command the load test starts: this executable as `serve --sandbox` by default, or
//! any stdio MCP server given as a command line.

use std::path::PathBuf;

/// A command to start, split into program and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// How the report names it (this executable is shown by name, not by path).
    pub display: String,
    /// Started from this executable's own `serve --sandbox`.
    pub is_builtin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("--target-cmd cannot be split into words: {0}")]
    Unsplittable(String),
    #[error("--target-cmd is empty; give the command that starts a stdio MCP server")]
    Empty,
    #[error("cannot find this executable to start it as the target ({0}); pass --target-cmd instead")]
    CurrentExe(String),
}

/// The command for `--target-cmd` (split as a POSIX shell would, without running a shell),
/// or this executable's `serve --sandbox`; `server_args` are appended either way.
pub fn resolve(
    target_cmd: Option<&str>,
    server_args: &[String],
    current_exe: impl FnOnce() -> std::io::Result<PathBuf>,
) -> Result<TargetCommand, TargetError> {
    match target_cmd {
        Some(line) => {
            let mut words =
                shell_words::split(line).map_err(|error| TargetError::Unsplittable(error.to_string()))?;
            if words.is_empty() {
                return Err(TargetError::Empty);
            }
            let program = PathBuf::from(words.remove(0));
            words.extend(server_args.iter().cloned());
            let display = shell_words::join(
                std::iter::once(program.to_string_lossy().as_ref()).chain(words.iter().map(String::as_str)),
            );
            Ok(TargetCommand { program, args: words, display, is_builtin: false })
        }
        None => {
            let program = current_exe().map_err(|error| TargetError::CurrentExe(error.to_string()))?;
            let mut args = vec!["serve".to_string(), "--sandbox".to_string()];
            args.extend(server_args.iter().cloned());
            let display =
                shell_words::join(std::iter::once("newrelic-mcp").chain(args.iter().map(String::as_str)));
            Ok(TargetCommand { program, args, display, is_builtin: true })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn exe() -> std::io::Result<PathBuf> {
        Ok(PathBuf::from("/opt/bin/newrelic-mcp"))
    }

    /// `--target-cmd`, `--server-arg`s, then the program, arguments and display expected.
    type Case<'a> = (Option<&'a str>, &'a [String], &'a str, &'a [&'a str], &'a str);

    #[test]
    fn commands_resolve() {
        let extra = vec!["--sandbox-5xx-rate".to_string(), "0.2".to_string()];
        let cases: [Case<'_>; 4] = [
            (None, &[], "/opt/bin/newrelic-mcp", &["serve", "--sandbox"], "newrelic-mcp serve --sandbox"),
            (
                None,
                &extra,
                "/opt/bin/newrelic-mcp",
                &["serve", "--sandbox", "--sandbox-5xx-rate", "0.2"],
                "newrelic-mcp serve --sandbox --sandbox-5xx-rate 0.2",
            ),
            (
                Some("npx -y 'some server' --flag=\"a b\""),
                &[],
                "npx",
                &["-y", "some server", "--flag=a b"],
                "npx -y 'some server' '--flag=a b'",
            ),
            (
                Some("  peer-mcp  "),
                &extra,
                "peer-mcp",
                &["--sandbox-5xx-rate", "0.2"],
                "peer-mcp --sandbox-5xx-rate 0.2",
            ),
        ];
        for (target_cmd, server_args, program, args, display) in cases {
            let resolved = resolve(target_cmd, server_args, exe).unwrap();
            assert_eq!(resolved.program, PathBuf::from(program), "{target_cmd:?}");
            assert_eq!(resolved.args, args, "{target_cmd:?}");
            assert_eq!(resolved.display, display, "{target_cmd:?}");
            assert_eq!(resolved.is_builtin, target_cmd.is_none());
        }
    }

    #[test]
    fn unusable_commands_are_refused_clearly() {
        let cases = [
            (Some("peer 'unterminated"), "cannot be split into words"),
            (Some("   "), "--target-cmd is empty"),
        ];
        for (target_cmd, expected) in cases {
            let error = resolve(target_cmd, &[], exe).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        let missing = resolve(None, &[], || Err(std::io::Error::other("gone"))).unwrap_err();
        assert_eq!(missing, TargetError::CurrentExe("gone".into()));
    }
}
