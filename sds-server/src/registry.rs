//! The live streams, as `/debug/sds` shows them: node, peer, names, acknowledged version.
//! Never a secret value.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// One stream's debug view.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StreamView {
    pub(crate) id: u64,
    pub(crate) api: &'static str,
    pub(crate) peer: String,
    pub(crate) node: String,
    pub(crate) names: Vec<String>,
    /// SotW: the version_info of the last ACKed response.
    pub(crate) acked_version: Option<String>,
    /// Delta: the version of each name the client has ACKed.
    pub(crate) acked: BTreeMap<String, String>,
    /// The version last sent and not yet ACKed or NACKed.
    pub(crate) pending_version: Option<String>,
    pub(crate) pushes: u64,
    pub(crate) acks: u64,
    pub(crate) nacks: u64,
    pub(crate) last_nack: Option<String>,
    #[serde(skip)]
    pub(crate) opened: Option<Instant>,
    pub(crate) open_seconds: f64,
}

/// Every open stream's view, by id.
#[derive(Default)]
pub(crate) struct Registry {
    streams: Mutex<BTreeMap<u64, Arc<Mutex<StreamView>>>>,
}

/// A stream's place in the registry; dropping it removes the stream.
pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
    view: Arc<Mutex<StreamView>>,
}

impl Registry {
    /// Adds a stream and returns its handle.
    pub(crate) fn add(self: &Arc<Self>, id: u64, api: &'static str, peer: String) -> Registered {
        let view = Arc::new(Mutex::new(StreamView {
            id,
            api,
            peer,
            node: String::new(),
            names: Vec::new(),
            acked_version: None,
            acked: BTreeMap::new(),
            pending_version: None,
            pushes: 0,
            acks: 0,
            nacks: 0,
            last_nack: None,
            opened: Some(Instant::now()),
            open_seconds: 0.0,
        }));
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(&view));
        Registered {
            registry: Arc::clone(self),
            id,
            view,
        }
    }

    /// Copies of every view, by id.
    pub(crate) fn views(&self) -> Vec<StreamView> {
        let streams: Vec<_> = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        streams
            .iter()
            .map(|v| {
                let mut view = v.lock().unwrap_or_else(PoisonError::into_inner).clone();
                view.open_seconds = view.opened.map_or(0.0, |o| o.elapsed().as_secs_f64());
                view
            })
            .collect()
    }

    /// Open streams.
    pub(crate) fn len(&self) -> usize {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Registered {
    /// Edits the view.
    pub(crate) fn update(&self, f: impl FnOnce(&mut StreamView)) {
        f(&mut self.view.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}
