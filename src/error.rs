//! The one renderer of the CLI's own errors: paths and files that cannot be read or written,
//! bad arguments and configuration, a server out of reach. Problems found in `.pw` files are
//! diagnostics, drawn by the compiler's renderers instead.
//!
//! An error that is only a message is one line, `error: MESSAGE`. One with a help, a label or
//! source text is drawn by miette, with the help under it and the source around the label.

use crate::ExitStatus;
use miette::Report;

/// The error as it is printed, without the final newline.
pub fn render(report: &Report) -> String {
    let plain = report.help().is_none() && report.labels().is_none() && report.source_code().is_none();
    if plain {
        format!("error: {report}")
    } else {
        format!("{report:?}")
    }
}

/// Prints the error on standard error.
pub fn print(report: &Report) {
    eprintln!("{}", render(report));
}

/// Prints the error on standard error; the command could not run.
pub fn fail(report: Report) -> ExitStatus {
    print(&report);
    ExitStatus::Error
}

#[cfg(test)]
mod tests {
    use super::*;
    use miette::{miette, LabeledSpan, NamedSource};

    #[test]
    fn a_bare_message_is_one_line() {
        assert_eq!(render(&miette!("no pipeline named `x`")), "error: no pipeline named `x`");
    }

    #[test]
    fn help_and_source_are_drawn_by_miette() {
        let with_help = render(&miette!(help = "check the path", "`x.pw` does not exist"));
        assert!(
            with_help.contains("× `x.pw` does not exist") && with_help.contains("help: check the path"),
            "{with_help}"
        );
        let at = miette!(labels = vec![LabeledSpan::at(0..3, "here")], "invalid configuration")
            .with_source_code(NamedSource::new("pipewright.toml", "bad = 1".to_string()));
        let drawn = render(&at);
        assert!(drawn.contains("pipewright.toml:1:1") && drawn.contains("here"), "{drawn}");
    }
}
