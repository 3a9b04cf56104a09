//! L0013 `unused-suppression`: reported by the suppression pass, not by a check of its own.

declare_rule! {
    /// ## What it does
    /// Finds `# pw: allow(...)` comments that suppress nothing: the rule they name finds
    /// nothing on the line they cover (or in the file, for `allow-file`).
    ///
    /// ## Why is this bad?
    /// A suppression outlives the problem it hid: once the pipeline is fixed, the comment stays
    /// and would silently hide the next real finding on that line. Remove it when it no longer
    /// applies.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     # pw: allow(missing-timeout) -- the suite hangs on slow agents
    ///     job unit {
    ///       timeout = 20m
    ///       run "cargo test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     job unit {
    ///       timeout = 20m
    ///       run "cargo test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// Suppressions of rules that are disabled by the configuration are not reported.
    ///
    /// ## Fix
    /// A safe fix removes the comment, or the unused names from its list.
    code: "L0013",
    name: "unused-suppression",
    category: Suppression,
    severity: Warning,
    fix: Safe,
    summary: "suppression comment that suppresses nothing",
    check: None,
    scope: Program,
}
