//! A job's log on its way to the server: the output of its tasks (masked by their senders) and
//! the agent's own lines, gathered and sent in numbered chunks.

use super::peer::{CallError, Peer, Ticket};
use std::time::Duration;
use tokio::sync::mpsc;

/// The log of one job: output (masked by its sender), gathered and sent in numbered chunks every
/// second or every 64 KiB.
pub(super) fn start_log<P: Peer>(
    peer: &P,
    ticket: Ticket,
) -> (mpsc::UnboundedSender<String>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let peer = peer.clone();
    let handle = tokio::spawn(async move {
        let mut buf = String::new();
        let mut seq = 0u64;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let flush = tokio::select! {
                line = rx.recv() => match line {
                    Some(l) => {
                        buf.push_str(&l);
                        buf.len() >= 64 * 1024
                    }
                    None => {
                        if !buf.is_empty() {
                            let _ = peer.log(&ticket, seq, std::mem::take(&mut buf)).await;
                        }
                        return;
                    }
                },
                _ = tick.tick() => !buf.is_empty(),
            };
            if flush {
                let data = std::mem::take(&mut buf);
                if let Err(CallError::Status(s, _)) = peer.log(&ticket, seq, data).await {
                    if s == 410 || s == 404 {
                        // The attempt is gone: keep draining so the job can end, send nothing.
                        while rx.recv().await.is_some() {}
                        return;
                    }
                }
                seq += 1;
            }
        }
    });
    (tx, handle)
}
