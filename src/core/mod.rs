//! The core: the seed protocols' pure parsing and formatting, the peer directory on disk, sockets
//! and their limits, settings files, signals, logging. Imports nothing else from the crate.

pub(crate) mod folder;
pub(crate) mod locks;
pub(crate) mod logging;
pub(crate) mod markup;
pub(crate) mod net;
pub(crate) mod page_cache;
pub(crate) mod protocol;
pub(crate) mod settings;
pub(crate) mod shutdown;
pub(crate) mod signals;
pub(crate) mod store;
pub(crate) mod uploads;
pub(crate) mod words;
