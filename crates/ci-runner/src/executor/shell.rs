//! Shells of `run:` steps, with GitHub's command lines.
//!
//! A step's `shell:` (or `defaults.run.shell`) picks a command template in
//! which `{0}` is the path of the script file. Without a shell, GitHub
//! uses `bash -e {0}`, or `sh -e {0}` where bash is missing.

/// A resolved shell: the command template and the script file extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shell {
    /// Program and arguments; `{0}` in an argument stands for the script.
    pub template: Vec<String>,
    /// Extension of the script file, without the dot.
    pub extension: &'static str,
}

/// Errors of choosing a shell.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShellError {
    #[error(
        "invalid shell `{0}`: a custom shell must contain `{{0}}` where the script path goes, for example `perl {{0}}`"
    )]
    MissingPlaceholder(String),
    #[error("invalid shell `{0}`: empty command")]
    Empty(String),
}

impl Shell {
    /// Resolves `name` (`None` for the default shell). `has_program`
    /// reports whether a program exists where the step runs.
    pub fn resolve(
        name: Option<&str>,
        has_program: impl Fn(&str) -> bool,
    ) -> Result<Self, ShellError> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let (command, extension) = match name {
            None if has_program("bash") => ("bash -e {0}".to_string(), "sh"),
            None => ("sh -e {0}".to_string(), "sh"),
            Some("bash") => ("bash --noprofile --norc -eo pipefail {0}".to_string(), "sh"),
            Some("sh") => ("sh -e {0}".to_string(), "sh"),
            Some("python") if has_program("python") => ("python {0}".to_string(), "py"),
            Some("python") => ("python3 {0}".to_string(), "py"),
            Some("pwsh") => ("pwsh -command \". '{0}'\"".to_string(), "ps1"),
            Some("powershell") => ("powershell -command \". '{0}'\"".to_string(), "ps1"),
            Some("cmd") => (
                "cmd /D /E:ON /V:OFF /S /C \"CALL \"{0}\"\"".to_string(),
                "cmd",
            ),
            Some(custom) => {
                if !custom.contains("{0}") {
                    return Err(ShellError::MissingPlaceholder(custom.to_string()));
                }
                (custom.to_string(), custom_extension(custom))
            }
        };

        let template: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        if template.is_empty() {
            return Err(ShellError::Empty(command));
        }
        Ok(Self {
            template,
            extension,
        })
    }

    /// Program and arguments with `{0}` replaced by `script`.
    pub fn command_line(&self, script: &str) -> (String, Vec<String>) {
        let mut parts = self.template.iter().map(|part| part.replace("{0}", script));
        let program = parts.next().unwrap_or_default();
        (program, parts.collect())
    }
}

/// Extension for a custom shell, chosen from its program name so that
/// interpreters that care (python, node) see a familiar file name.
fn custom_extension(command: &str) -> &'static str {
    let program = command.split_whitespace().next().unwrap_or_default();
    let base = program.rsplit('/').next().unwrap_or(program);
    match base {
        b if b.starts_with("python") => "py",
        "node" => "js",
        "pwsh" | "powershell" => "ps1",
        _ => "sh",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: Option<&str>) -> Shell {
        Shell::resolve(name, |_| true).unwrap()
    }

    #[test]
    fn default_shell_is_bash_e() {
        assert_eq!(resolve(None).template, vec!["bash", "-e", "{0}"]);
    }

    #[test]
    fn default_shell_without_bash_is_sh() {
        let shell = Shell::resolve(None, |p| p != "bash").unwrap();
        assert_eq!(shell.template, vec!["sh", "-e", "{0}"]);
    }

    #[test]
    fn named_bash_uses_pipefail() {
        assert_eq!(
            resolve(Some("bash")).template,
            vec!["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]
        );
    }

    #[test]
    fn python_falls_back_to_python3() {
        let shell = Shell::resolve(Some("python"), |p| p != "python").unwrap();
        assert_eq!(shell.template, vec!["python3", "{0}"]);
        assert_eq!(shell.extension, "py");
    }

    #[test]
    fn custom_shell_replaces_placeholder() {
        let shell = resolve(Some("perl -w {0}"));
        assert_eq!(
            shell.command_line("/tmp/s.sh"),
            (
                "perl".to_string(),
                vec!["-w".to_string(), "/tmp/s.sh".to_string()]
            )
        );
    }

    #[test]
    fn custom_shell_without_placeholder_rejected() {
        assert_eq!(
            Shell::resolve(Some("perl -w"), |_| true),
            Err(ShellError::MissingPlaceholder("perl -w".into()))
        );
    }
}
