//! What a check keeps for the next one: each pipeline as built, so that a check after an edit
//! rebuilds only the pipelines the edit can have changed (the language server's checks).
//!
//! A kept pipeline is taken when its file's parse is the very one it was built from, the
//! templates declared are the same names in the same files, and every symbol its building
//! referred to lies in an unchanged file. Symbols are numbered across the workspace, file after
//! file, so an unchanged file's symbols keep their order but may start elsewhere: the kept
//! references are moved by that file's shift. Anything else is built again. A kept pipeline
//! is shared with the program, and stays shared where the resolver finds nothing to write in it.

use super::build::Built;
use super::declare::Declared;
use super::values::Use;
use crate::source::FileId;
use crate::symbols::{SymbolId, Symbols};
use crate::ParsedFile;
use std::sync::Arc;

/// A top-level pipeline's file, and its position among the file's members.
pub(super) type Key = (FileId, usize);

/// What a check kept: the parses it checked, where each file's symbols start, the templates
/// it declared, and each pipeline as built.
#[derive(Default)]
pub struct Kept {
    files: Vec<Arc<ParsedFile>>,
    /// The first symbol of each file, then the number of symbols.
    symbol_starts: Vec<u32>,
    /// The declared templates: lower-case name and file.
    templates: Vec<(String, FileId)>,
    /// Each declared pipeline, by its file and its position among the file's members, in order.
    pipelines: Vec<(Key, Arc<Built>)>,
    /// How many pipelines this check built, rather than took from the previous one.
    rebuilt: usize,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kept {{ {} pipelines, {} rebuilt }}", self.pipelines.len(), self.rebuilt)
    }
}

impl Kept {
    /// How many pipelines the check that kept this built; the others it took from the check
    /// before.
    pub fn rebuilt(&self) -> usize {
        self.rebuilt
    }
}

/// The first symbol of each of `files` files, then the number of symbols: [`declare`](super::declare)
/// numbers them file after file.
fn symbol_starts(symbols: &Symbols, files: usize) -> Vec<u32> {
    (0..=files as u32).map(|f| symbols.symbols.partition_point(|s| s.file.0 < f) as u32).collect()
}

fn templates(declared: &Declared) -> Vec<(String, FileId)> {
    declared.templates.iter().map(|d| (d.name.name.to_ascii_lowercase(), d.file)).collect()
}

/// The previous check's pipelines, as this check may take them.
pub(super) struct Reuse<'k> {
    kept: Option<&'k Kept>,
    /// Whether each file's parse is the one the previous check checked.
    unchanged: Vec<bool>,
    /// This check's [`symbol_starts`].
    starts: Vec<u32>,
    /// This check's [`templates`].
    templates: Vec<(String, FileId)>,
}

impl<'k> Reuse<'k> {
    pub(super) fn new(
        previous: Option<&'k Kept>,
        files: &[Arc<ParsedFile>],
        symbols: &Symbols,
        declared: &Declared,
    ) -> Self {
        let templates = templates(declared);
        let kept = previous.filter(|k| k.files.len() == files.len() && k.templates == templates);
        let unchanged = match kept {
            Some(k) => files.iter().zip(&k.files).map(|(new, old)| Arc::ptr_eq(new, old)).collect(),
            None => vec![false; files.len()],
        };
        Reuse { kept, unchanged, starts: symbol_starts(symbols, files.len()), templates }
    }

    /// What this check keeps for the next: `pipelines` as built (`rebuilt` of them built anew).
    pub(super) fn keep(self, files: &[Arc<ParsedFile>], pipelines: Vec<(Key, Arc<Built>)>, rebuilt: usize) -> Kept {
        Kept { files: files.to_vec(), symbol_starts: self.starts, templates: self.templates, pipelines, rebuilt }
    }

    /// The kept pipeline at `position` of `file`, with its references moved to this check's
    /// symbols; `None` when it must be built again.
    pub(super) fn take(&self, file: FileId, position: usize) -> Option<Arc<Built>> {
        let kept = self.kept?;
        if !*self.unchanged.get(file.0 as usize)? {
            return None;
        }
        let at = kept.pipelines.binary_search_by_key(&(file, position), |(key, _)| *key).ok()?;
        let built = &kept.pipelines[at].1;
        let uses = built.refers.iter().chain(&built.uses);
        if uses.clone().all(|u| self.shift(kept, u.symbol) == Some(0)) {
            return Some(Arc::clone(built));
        }
        let mut moved = Built::clone(built);
        for u in moved.refers.iter_mut().chain(&mut moved.uses) {
            *u = self.moved(kept, *u)?;
        }
        Some(Arc::new(moved))
    }

    fn moved(&self, kept: &Kept, u: Use) -> Option<Use> {
        let shift = self.shift(kept, u.symbol)?;
        let symbol = SymbolId(u32::try_from(i64::from(u.symbol.0) + shift).ok()?);
        Some(Use { symbol, ..u })
    }

    /// How far the symbols of the file that holds the previous check's `symbol` moved; `None`
    /// when that file changed.
    fn shift(&self, kept: &Kept, symbol: SymbolId) -> Option<i64> {
        let starts = &kept.symbol_starts;
        let file = starts.partition_point(|&s| s <= symbol.0).checked_sub(1)?;
        let (old, new) = (starts.get(file..=file + 1)?, self.starts.get(file..=file + 1)?);
        let same_count = old[1] - old[0] == new[1] - new[0];
        (*self.unchanged.get(file)? && same_count).then(|| i64::from(new[0]) - i64::from(old[0]))
    }
}
