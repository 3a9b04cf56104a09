//! L0014 `invalid-suppression`: reported by the suppression pass, not by a check of its own.

declare_rule! {
    /// ## What it does
    /// Finds `# pw:` comments that cannot be read: an unknown directive or rule, a missing
    /// `(...)`, or no reason after `--`.
    ///
    /// ## Why is this bad?
    /// A malformed suppression suppresses nothing, so the finding it meant to hide still shows,
    /// and a reader is misled about what the comment does. A suppression without a reason hides
    /// a problem without telling the next reader why that is fine; it does not suppress anything
    /// until it gives one.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     # pw: allow(missing-timeout)
    ///     job unit {
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
    ///     # pw: allow(missing-timeout) -- the runtime's agent watchdog ends it after 1h
    ///     job unit {
    ///       run "cargo test"
    ///     }
    ///   }
    /// }
    /// ```
    code: "L0014",
    name: "invalid-suppression",
    category: Suppression,
    severity: Warning,
    fix: None,
    summary: "suppression comment that cannot be read or gives no reason",
    check: None,
    scope: Program,
}
