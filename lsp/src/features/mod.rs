//! One module a feature, each a plain function of a [`Snapshot`](crate::state::Snapshot).

pub mod actions;
pub mod completion;
pub mod describe;
pub mod diagnostics;
pub mod folding;
pub mod formatting;
pub mod hover;
pub mod inlay;
pub mod navigation;
pub mod symbols;
pub mod tokens;
