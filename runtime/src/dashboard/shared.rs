//! Pages every tab shows alike (the overview, the map, the agents) rendered once for many: after
//! an event, every open tab fetches its page again at about the same time, and all but the first
//! get the copy rendered for the same last event, if it is at most [`FRESH`] old.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a copy serves: changes that make no event (an agent going silent, a reloaded
/// workspace) show within this.
pub(crate) const FRESH: Duration = Duration::from_secs(2);

struct Copy {
    seq: u64,
    made: Instant,
    html: Arc<String>,
}

#[derive(Default)]
pub(crate) struct SharedPages {
    /// Held while a page renders, so that tabs asking at once wait for one rendering.
    pages: Mutex<HashMap<&'static str, Copy>>,
}

impl SharedPages {
    /// The page `name` as of event `seq`: the copy when it is fresh, else `render()`'s.
    pub(crate) async fn get<E>(
        &self,
        name: &'static str,
        seq: u64,
        render: impl FnOnce() -> Result<String, E>,
    ) -> Result<Arc<String>, E> {
        let mut pages = self.pages.lock().await;
        if let Some(c) = pages.get(name).filter(|c| c.seq == seq && c.made.elapsed() < FRESH) {
            return Ok(c.html.clone());
        }
        let html = Arc::new(render()?);
        pages.insert(name, Copy { seq, made: Instant::now(), html: html.clone() });
        Ok(html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_page_is_rendered_once_per_event_and_again_after_the_next() {
        let shared = SharedPages::default();
        let renders = std::cell::Cell::new(0);
        let render = |seq: u64| {
            renders.set(renders.get() + 1);
            Ok::<_, ()>(format!("page at {seq} ({})", renders.get()))
        };
        assert_eq!(*shared.get("o", 1, || render(1)).await.unwrap(), "page at 1 (1)");
        assert_eq!(*shared.get("o", 1, || render(1)).await.unwrap(), "page at 1 (1)");
        assert_eq!(*shared.get("o", 2, || render(2)).await.unwrap(), "page at 2 (2)");
        assert_eq!(*shared.get("a", 2, || render(2)).await.unwrap(), "page at 2 (3)");
        assert_eq!(renders.get(), 3);
    }
}
