//! The peers of the settings file and whether each answers: what the Peers panel shows, and
//! who's who for the other panels (a settings ID for an ip:port, a holder gone offline).

use crate::core::settings::PeerAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    Me,
    Unknown,
    Online,
    Offline,
}

#[derive(Debug, Clone)]
pub struct PeerRow {
    pub addr: PeerAddr,
    pub state: PeerState,
}

/// Who holds a file another peer offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A peer of the settings file, by its ID.
    Peer(String),
    /// A peer only the tracker knows, by its ip:port.
    Address(String),
}

impl Holder {
    /// How the UI names it: the settings ID, else ip:port.
    pub fn name(&self) -> &str {
        match self {
            Holder::Peer(id) | Holder::Address(id) => id,
        }
    }
}

pub struct Peers {
    /// This peer's settings ID.
    pub me: String,
    pub rows: Vec<PeerRow>,
}

impl Peers {
    pub fn new(me: &str, peers: &[PeerAddr]) -> Peers {
        let rows = peers
            .iter()
            .map(|addr| PeerRow {
                state: if addr.id == me {
                    PeerState::Me
                } else {
                    PeerState::Unknown
                },
                addr: addr.clone(),
            })
            .collect();
        Peers {
            me: me.to_string(),
            rows,
        }
    }

    /// A probe's answer: `peer` accepted a connection, or did not.
    pub fn on_reachable(&mut self, peer: &str, online: bool) {
        if let Some(row) = self
            .rows
            .iter_mut()
            .find(|r| r.addr.id == peer && r.state != PeerState::Me)
        {
            row.state = if online {
                PeerState::Online
            } else {
                PeerState::Offline
            };
        }
    }

    /// This peer's own row.
    pub fn me(&self) -> Option<&PeerRow> {
        self.rows.iter().find(|p| p.addr.id == self.me)
    }

    /// The settings IDs, in the file's order.
    pub fn ids(&self) -> Vec<String> {
        self.rows.iter().map(|p| p.addr.id.clone()).collect()
    }

    /// Whether `id` is a peer of the settings file.
    pub fn is_known(&self, id: &str) -> bool {
        self.rows.iter().any(|p| p.addr.id == id)
    }

    /// Whether `id` is a settings peer last seen offline.
    pub fn is_offline(&self, id: &str) -> bool {
        (self.rows.iter()).any(|p| p.addr.id == id && p.state == PeerState::Offline)
    }

    /// Whether `holder` is a settings peer last seen offline.
    pub fn holder_offline(&self, holder: &Holder) -> bool {
        matches!(holder, Holder::Peer(id) if self.is_offline(id))
    }

    /// The holder a peer's name stands for (a `#FILELIST` reply says who answered).
    pub fn holder(&self, id: &str) -> Holder {
        if self.is_known(id) {
            Holder::Peer(id.to_string())
        } else {
            Holder::Address(id.to_string())
        }
    }

    /// The holder at `ip:port`: the settings peer there, else the address.
    pub fn holder_at(&self, ip: &str, port: u16) -> Holder {
        self.rows
            .iter()
            .find(|p| p.addr.is_at(ip, port))
            .map_or_else(
                || Holder::Address(format!("{ip}:{port}")),
                |p| Holder::Peer(p.addr.id.clone()),
            )
    }
}
